package main

import (
	"slices"

	"github.com/nsplay/nsplay/internal/lab"
	"github.com/nsplay/nsplay/internal/model"
	"github.com/spf13/cobra"
)

// Completions of positional arguments, for the scripts of nsplay
// completion: they run `nsplay __complete ARGS...` as the user types.

// playbookArg completes the one playbook of run, plan and graph: .star
// files and the folders on the way to them.
func playbookArg(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return playbookPaths(nil, nil, "")
}

// playbookPaths completes the playbooks and folders of nsplay test.
func playbookPaths(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return []cobra.Completion{"star"}, cobra.ShellCompDirectiveFilterFileExt
}

// labArg completes the names of the labs that are up, from their journals,
// but those given already (down takes several).
func labArg(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 && cmd.Name() != "down" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return slices.DeleteFunc(labNames(), func(name string) bool { return slices.Contains(args, name) }), cobra.ShellCompDirectiveNoFileComp
}

// labNodeArgs completes the lab and then the namespace of exec and shell:
// the namespaces the lab's journal says it made. Past them come the words
// of exec's command: the shell's own completion.
func labNodeArgs(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	switch {
	case len(args) == 0:
		return labNames(), cobra.ShellCompDirectiveNoFileComp
	case len(args) == 1:
		// Inspect reads the journal only; Namespaces needs no backend.
		l, err := lab.Inspect(args[0], nil, model.DefaultPaths)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return l.Namespaces(), cobra.ShellCompDirectiveNoFileComp
	case cmd.Name() == "exec":
		return nil, cobra.ShellCompDirectiveDefault
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// labNames are the names of the labs that are up.
func labNames() []string {
	labs, err := lab.List(model.DefaultPaths)
	if err != nil {
		return nil
	}
	var names []string
	for _, l := range labs {
		names = append(names, l.Name)
	}
	return names
}
