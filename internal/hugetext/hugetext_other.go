//go:build !linux

package hugetext

import "os"

// Remap is Linux's only.
func Remap() (*Text, error) { return nil, ErrUnsupported }

// Adopt is Linux's only.
func Adopt(f *os.File) (*Text, error) { return nil, ErrUnsupported }
