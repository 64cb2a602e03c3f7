package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// lexLine splits one line into tokens and a trailing comment ("#…", without
// trailing blanks; empty if none). Tokens are separated by blanks; a token
// in double quotes may contain blanks and '#'; inside quotes \" and \\ are
// escapes and any other backslash is literal.
func lexLine(line string) (toks []string, comment string, err error) {
	if !utf8.ValidString(line) {
		return nil, "", errors.New("line is not valid UTF-8")
	}
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '#':
			return toks, strings.TrimRightFunc(line[i:], unicode.IsSpace), nil
		case c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(line) {
					return nil, "", errors.New("unterminated quoted string")
				}
				if line[j] == '\\' && j+1 < len(line) && (line[j+1] == '"' || line[j+1] == '\\') {
					b.WriteByte(line[j+1])
					j += 2
					continue
				}
				if line[j] == '"' {
					break
				}
				b.WriteByte(line[j])
				j++
			}
			j++
			if j < len(line) && line[j] != ' ' && line[j] != '\t' && line[j] != '#' {
				return nil, "", errors.New("quoted string must be followed by a blank")
			}
			toks = append(toks, b.String())
			i = j
		default:
			j := i
			for j < len(line) && line[j] != ' ' && line[j] != '\t' && line[j] != '#' {
				if line[j] == '"' {
					return nil, "", fmt.Errorf("stray quote in %q", line[i:])
				}
				j++
			}
			toks = append(toks, line[i:j])
			i = j
		}
	}
	for _, t := range toks {
		for _, r := range t {
			if unicode.IsControl(r) {
				return nil, "", fmt.Errorf("control character %q in %q", r, t)
			}
		}
	}
	return toks, "", nil
}

// quote returns s as one token: unchanged if it needs no quotes.
func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t#\"") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || (s[i] == '\\' && (i+1 == len(s) || s[i+1] == '"' || s[i+1] == '\\')) {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// parseSeconds reads a non-negative decimal number of seconds.
func parseSeconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number of seconds", s)
	}
	return secondsToDuration(f)
}

// maxSeconds bounds thresholds far below time.Duration's range (292 years).
const maxSeconds = 100 * 365 * 86400

func secondsToDuration(f float64) (time.Duration, error) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, fmt.Errorf("%v is not a number of seconds", f)
	case f < 0:
		return 0, fmt.Errorf("%s s is negative", strconv.FormatFloat(f, 'g', -1, 64))
	case f > maxSeconds:
		return 0, fmt.Errorf("%s s is more than 100 years", strconv.FormatFloat(f, 'g', -1, 64))
	}
	return time.Duration(math.Round(f * 1e9)), nil
}

// formatSeconds writes d in seconds, as short as exact ("0.128", "900").
func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// parseInt reads a decimal integer in lo..hi.
func parseInt(name, s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a whole number", name, s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s: %d is out of range %d..%d", name, n, lo, hi)
	}
	return n, nil
}
