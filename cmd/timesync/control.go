package main

// control.go: the commands that talk to the running service through the
// control API's client: status, sources, servers, restrict, sync.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/control/client"
)

// clientOpts are the flags every client command takes, anywhere on its
// line: --json and --socket PATH (default $TIMESYNC_SOCKET, else the
// OS's path).
type clientOpts struct {
	json   bool
	socket string
}

// splitClientFlags removes --json and --socket from args, wherever they
// are; other arguments, and the command's own flags named in keep, are
// returned in order ("--" ends the flags).
func splitClientFlags(args []string, keep ...string) ([]string, clientOpts, error) {
	var o clientOpts
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(rest, args[i+1:]...), o, nil
		case a == "--json" || a == "-json":
			o.json = true
		case a == "--socket" || a == "-socket":
			if i+1 >= len(args) {
				return nil, o, usagef("--socket needs a value")
			}
			i++
			o.socket = args[i]
		case strings.HasPrefix(a, "--socket=") || strings.HasPrefix(a, "-socket="):
			o.socket = a[strings.Index(a, "=")+1:]
		case a == "-h" || a == "--help" || a == "-help":
			return nil, o, errHelp
		case slices.Contains(keep, strings.TrimLeft(a, "-")):
			rest = append(rest, a)
		case strings.HasPrefix(a, "-") && len(a) > 1 && !isNumber(a):
			return nil, o, usagef("unknown flag %s; see 'timesync help'", a)
		default:
			rest = append(rest, a)
		}
	}
	return rest, o, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

func (o clientOpts) client() *client.Client { return client.New(o.socket) }

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runStatus implements "timesync status [--json] [--socket PATH]", in
// the manner of chronyc tracking.
func runStatus(args []string, stdout io.Writer) error {
	rest, o, err := splitClientFlags(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("status: unexpected argument %q", rest[0])
	}
	c := o.client()
	defer c.Close()
	st, err := c.Status(context.Background())
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(stdout, st)
	}
	printStatus(stdout, st, time.Now())
	return nil
}

func printStatus(w io.Writer, st *control.Status, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	line := func(k, f string, a ...any) { fmt.Fprintf(tw, "%s\t: %s\n", k, fmt.Sprintf(f, a...)) }
	state := st.State
	if st.DryRun {
		state += " (dry run: the clock is never changed)"
	}
	line("State", "%s", state)
	if st.ReasonCode != "" {
		line("Reason", "%s [%s]", st.Reason, st.ReasonCode)
	}
	ref := st.Reference
	if ref == "" {
		ref = "none"
	}
	line("Reference", "%s", ref)
	line("Stratum", "%d", st.Stratum)
	if st.LastSync != nil {
		line("Last sync", "%s (%s ago)", st.LastSync.Local().Format(time.RFC3339), now.Sub(*st.LastSync).Round(time.Second))
	} else {
		line("Last sync", "never")
	}
	if st.LastSync != nil {
		line("Last offset", "%+.9f s (± %.9f s; positive: the clock was behind)", st.OffsetSeconds, st.OffsetErrorSeconds)
	} else {
		line("Last offset", "–")
	}
	line("Frequency", "%+.3f ppm (± %.3f ppm; positive: made faster)", st.FrequencyPPM, st.SkewPPM)
	if st.LastSync != nil {
		line("Root distance", "%.6f s", st.RootDistanceSeconds)
	}
	if st.PendingStepSeconds != nil {
		line("Held step", "%+.6f s: confirm with 'timesync sync --confirm'", *st.PendingStepSeconds)
	}
	if c := st.DryRunCorrectionSeconds; c != nil {
		line("Would have moved", "%+.6f s so far (dry run: the real clock is about that plus the last offset off)", *c)
	}
	line("Updates", "%d", st.Updates)
	if sv := st.Server; sv != nil {
		line("Serving", "%s", strings.Join(sv.Listen, ", "))
		for _, e := range sv.Errors {
			line("Not serving", "%s", e)
		}
		line("Requests", "%d answered, %d dropped by rule, %d rate-limited (%d KoD sent), %d malformed, %d refused",
			sv.Answered, sv.DroppedByRule, sv.RateLimited, sv.KoDSent, sv.Malformed, sv.Refused)
	}
	for _, wn := range st.Warnings {
		line("Warning", "%s", wn)
	}
	tw.Flush()
}

// runSources implements "timesync sources [--json] [--socket PATH]", in
// the manner of chronyc sources / ntpq -p.
func runSources(args []string, stdout io.Writer) error {
	rest, o, err := splitClientFlags(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("sources: unexpected argument %q", rest[0])
	}
	c := o.client()
	defer c.Close()
	srcs, err := c.Sources(context.Background())
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(stdout, struct {
			Sources []control.Source `json:"sources"`
		}{srcs})
	}
	st, err := c.Status(context.Background())
	ref := ""
	if err == nil {
		ref = st.Reference
	}
	printSources(stdout, srcs, ref)
	return nil
}

// tally is ntpq's one-character verdict on a source.
func tally(s control.Source, ref string) string {
	switch {
	case s.Address == ref && s.State == "selected":
		return "*" // the system peer
	case s.State == "selected":
		return "+" // combined with it
	case s.State == "candidate":
		return "-" // valid, not used
	case s.State == "falseticker":
		return "x"
	case s.State == "kod", s.State == "invalid":
		return "!"
	}
	return "?" // unreachable
}

func printSources(w io.Writer, srcs []control.Source, ref string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tSERVER\tST\tPOLL\tREACH\tLAST\tLAST SAMPLE\tOFFSET\tDELAY\tJITTER\t")
	for _, s := range srcs {
		name := s.Address
		if s.Name != "" {
			name = s.Name + " (" + s.Address + ")"
		}
		last, sample := "-", "-"
		if s.LastSampleSeconds != nil {
			last = fmtAge(*s.LastSampleSeconds)
			sample = fmt.Sprintf("%s ± %s", fmtSeconds(s.LastOffsetSeconds, true), fmtSeconds(s.LastDelaySeconds/2, false))
		}
		off, dly, jit, st := "-", "-", "-", "-"
		if s.Samples > 0 || s.Stratum > 0 {
			off, dly, jit = fmtSeconds(s.OffsetSeconds, true), fmtSeconds(s.DelaySeconds, false), fmtSeconds(s.JitterSeconds, false)
			st = strconv.Itoa(s.Stratum)
		}
		poll := "-"
		if s.PollSeconds > 0 {
			poll = fmtAge(s.PollSeconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%03o\t%s\t%s\t%s\t%s\t%s\t\n",
			tally(s, ref), name, st, poll, s.Reach, last, sample, off, dly, jit)
	}
	tw.Flush()
	for _, s := range srcs {
		if s.Reason != "" && s.State != "selected" {
			fmt.Fprintf(w, "%s %s: %s\n", tally(s, ref), s.Address, s.Reason)
		}
	}
	fmt.Fprintln(w, "* system peer, + combined, - not used, x falseticker, ! kiss-o'-death or invalid, ? unreachable; REACH in octal (377: the last 8 polls answered)")
}

// fmtSeconds prints s with a unit that keeps it short.
func fmtSeconds(s float64, sign bool) string {
	f := "%.3f"
	if sign {
		f = "%+.3f"
	}
	a := s
	if a < 0 {
		a = -a
	}
	switch {
	case a >= 1:
		return fmt.Sprintf(f+"s", s)
	case a >= 1e-3:
		return fmt.Sprintf(f+"ms", s*1e3)
	}
	return fmt.Sprintf(f+"us", s*1e6)
}

func fmtAge(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d >= 10*time.Minute:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

// runServers implements "timesync servers list|add|remove".
func runServers(args []string, stdout io.Writer) error {
	rest, o, err := splitClientFlags(args)
	if err != nil {
		return err
	}
	const use = "servers list | servers add [pool] ADDRESS[:PORT] [options] | servers remove [pool] ADDRESS[:PORT]"
	if len(rest) == 0 {
		return usagef("usage: timesync %s", use)
	}
	c := o.client()
	defer c.Close()
	ctx := context.Background()
	var out *control.Servers
	switch sub, a := rest[0], rest[1:]; sub {
	case "list":
		if len(a) > 0 {
			return usagef("servers list: unexpected argument %q", a[0])
		}
		out, err = c.Servers(ctx)
	case "add":
		if len(a) == 0 || (len(a) == 1 && a[0] == "pool") {
			return usagef("usage: timesync servers add [pool] ADDRESS[:PORT] [options]")
		}
		if a[0] == "pool" {
			p, perr := config.ParsePool(a[1:]...)
			if perr != nil {
				return usageError{perr}
			}
			out, err = c.AddPool(ctx, p)
			break
		}
		s, perr := config.ParseServer(a...)
		if perr != nil {
			return usageError{perr}
		}
		out, err = c.AddServer(ctx, s)
	case "remove":
		switch {
		case len(a) == 2 && a[0] == "pool":
			out, err = c.RemovePool(ctx, a[1])
		case len(a) == 1:
			out, err = c.RemoveServer(ctx, a[0])
		default:
			return usagef("usage: timesync servers remove ADDRESS[:PORT] | servers remove pool NAME")
		}
		if client.IsNotFound(err) {
			return fmt.Errorf("%w; 'timesync servers list' shows what is configured", err)
		}
	default:
		return usagef("unknown servers subcommand %q; usage: timesync %s", sub, use)
	}
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(stdout, out)
	}
	if len(out.Servers)+len(out.Pools) == 0 {
		fmt.Fprintln(stdout, "no servers configured")
	}
	for _, s := range out.Servers {
		fmt.Fprintln(stdout, s.String())
	}
	for _, p := range out.Pools {
		fmt.Fprintln(stdout, p.String())
	}
	return nil
}

// runRestrict implements "timesync restrict list|add|remove".
func runRestrict(args []string, stdout io.Writer) error {
	rest, o, err := splitClientFlags(args)
	if err != nil {
		return err
	}
	const use = "restrict list | restrict add default|ADDRESS[/BITS] [mask MASK] [FLAG]... | restrict remove default|ADDRESS[/BITS] [mask MASK]"
	if len(rest) == 0 {
		return usagef("usage: timesync %s", use)
	}
	c := o.client()
	defer c.Close()
	ctx := context.Background()
	var out *control.Restrict
	switch sub, a := rest[0], rest[1:]; sub {
	case "list":
		if len(a) > 0 {
			return usagef("restrict list: unexpected argument %q", a[0])
		}
		out, err = c.Restrict(ctx)
	case "add":
		if len(a) == 0 {
			return usagef("usage: timesync restrict add default|ADDRESS[/BITS] [mask MASK] [FLAG]...")
		}
		r, perr := config.ParseRestrict(a...)
		if perr != nil {
			return usageError{perr}
		}
		out, err = c.SetRestrict(ctx, r)
	case "remove":
		if len(a) == 0 {
			return usagef("usage: timesync restrict remove default|ADDRESS[/BITS] [mask MASK]")
		}
		out, err = c.RemoveRestrict(ctx, strings.Join(a, " "))
		if client.IsNotFound(err) {
			return fmt.Errorf("%w; 'timesync restrict list' shows the rules", err)
		}
	default:
		return usagef("unknown restrict subcommand %q; usage: timesync %s", sub, use)
	}
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(stdout, out)
	}
	for _, r := range out.Rules {
		fmt.Fprintln(stdout, r.Text)
	}
	if len(out.Rules) == 0 {
		fmt.Fprintf(stdout, "no rules; clients get the default: %s\n", out.Default.Text)
	}
	if !out.Serving {
		fmt.Fprintln(stdout, "(time is not served: the rules apply once a listen directive is added)")
	}
	return nil
}

// runSync implements "timesync sync [--confirm]".
func runSync(args []string, stdout io.Writer) error {
	rest, o, err := splitClientFlags(args, "confirm")
	if err != nil {
		return err
	}
	confirm := false
	for _, a := range rest {
		if a != "--confirm" && a != "-confirm" {
			return usagef("sync: unexpected argument %q (only --confirm)", a)
		}
		confirm = true
	}
	c := o.client()
	defer c.Close()
	res, err := c.Sync(context.Background(), confirm)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(stdout, res)
	}
	if res.Confirmed {
		fmt.Fprintln(stdout, "held correction confirmed: the clock is stepped at the next update")
	}
	fmt.Fprintln(stdout, "burst of measurements started; see 'timesync sources'")
	return nil
}
