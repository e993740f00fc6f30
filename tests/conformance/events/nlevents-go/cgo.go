package main

// Importing C makes this a cgo binary: dynamically linked against libc, so LD_PRELOAD (and with
// it libgvnet.so) applies to it, as to dockerd.

// #include <stdlib.h>
import "C"
