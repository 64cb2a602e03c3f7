//go:build linux && amd64

#include "textflag.h"

// func Syscall(trap, a1 uintptr) uintptr
TEXT ·Syscall(SB),NOSPLIT,$0-24
	MOVQ trap+0(FP), AX
	MOVQ a1+8(FP), BX
	INT $0x80
	MOVQ AX, ret+16(FP)
	RET
