package main

import (
	"io"
	"os"
)

// blockingStdin: on Windows the pipe is read by a thread already.
func blockingStdin() io.Reader { return os.Stdin }
