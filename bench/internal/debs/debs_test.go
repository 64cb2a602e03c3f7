package debs

import (
	"slices"
	"testing"
)

func TestParseDepends(t *testing.T) {
	got := parseDepends("adduser, iproute2, libc6 (>= 2.34), libcap2 (>= 1:2.10), libgnutls30 (>= 3.7.5), tzdata-legacy | tzdata (<< 2023c-8), ucf, libfoo:any")
	want := []string{"adduser", "iproute2", "libc6", "libcap2", "libgnutls30", "tzdata-legacy", "ucf", "libfoo"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseLddMissing(t *testing.T) {
	out := "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibnettle.so.8 => not found\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\tlibseccomp.so.2 => not found\n"
	got := parseLddMissing(out)
	want := []string{"libnettle.so.8", "libseccomp.so.2"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
