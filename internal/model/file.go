package model

import "strings"

// FileWrite writes a file the lab owns (a namespace's resolv.conf).
type FileWrite struct {
	Path string `json:"path"`
	Data string `json:"data"`
}

func (o FileWrite) Text() string {
	return "write " + o.Path + ": " + strings.ReplaceAll(strings.TrimSpace(o.Data), "\n", "; ")
}
func (o FileWrite) Inverse() Op { return FileRemove{Path: o.Path} }

// FileRemove removes a file.
type FileRemove struct {
	Path string `json:"path"`
}

func (o FileRemove) Text() string { return "rm " + o.Path }
func (o FileRemove) Inverse() Op  { return nil }

// DirAdd creates a folder the lab's files need.
type DirAdd struct {
	Path string `json:"path"`
}

func (o DirAdd) Text() string { return "mkdir " + o.Path }
func (o DirAdd) Inverse() Op  { return DirRemove(o) }

// DirRemove removes a folder, when it is empty.
type DirRemove struct {
	Path string `json:"path"`
}

func (o DirRemove) Text() string { return "rmdir " + o.Path }
func (o DirRemove) Inverse() Op  { return nil }

var _ = register("file.write", FileWrite{}) && register("file.remove", FileRemove{}) &&
	register("dir.add", DirAdd{}) && register("dir.remove", DirRemove{})
