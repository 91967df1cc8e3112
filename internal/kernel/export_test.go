package kernel

// GoLockedOffMain lets the tests park a thread as the package does.
var GoLockedOffMain = goLockedOffMain
