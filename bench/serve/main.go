// Command serve is the `make bench-serve` harness: timesync's NTP server
// (service/serve) and Debian's chronyd (-x -d, "allow", "local stratum 2";
// fetched with apt-get download and unpacked with dpkg -x into a cache
// directory, never installed) serve on loopback, each in a process of its
// own, and the same load generator — 8 senders × 16 requests in flight,
// closed loop — measures the answered requests per second of each, in
// alternating rounds, with the CPU time each server used. Our server holds
// a 100-rule restrict table (the clients' rule among them).
//
// Then both are flooded with one request from each of 100,000 distinct
// source addresses (127.100.0.0 – 127.101.134.159, every one a socket of
// its own: Linux routes all of 127/8 to lo), under "limited kod" for our
// server so that every source enters the rate limiter's MRU table, and the
// growth of each server's resident memory is reported.
//
// Neither server can change the clock: ours never does, chronyd runs with
// -x and without CAP_SYS_TIME (setpriv) when run as root.
//
// Run it from the repository root: go run ./bench/serve [flags]. It exits
// 1 if a server fails, 2 on bad flags, 3 with -strict when a target is
// missed (throughput at least chronyd's, memory growth < 10 MB).
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"github.com/timesync/timesync/bench/internal/procstat"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/timesync/timesync/bench/internal/debs"
	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/serve"
)

// Targets from the issue.
const (
	targetRatio    = 1.0      // our answered/s ÷ chronyd's, at least
	targetMemBytes = 10 << 20 // RSS growth under the flood, below
)

type options struct {
	rounds    int
	duration  time.Duration
	senders   int
	inflight  int
	rules     int
	flood     int
	cache     string
	chronyd   string
	strict    bool
	childAddr string // internal: run as our server's process
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("bench-serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.rounds, "rounds", 3, "rounds per server, alternating")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "length of each round")
	fs.IntVar(&o.senders, "senders", 8, "senders (sockets) of the load generator")
	fs.IntVar(&o.inflight, "inflight", 16, "requests in flight per sender")
	fs.IntVar(&o.rules, "rules", 100, "restrict rules of our server")
	fs.IntVar(&o.flood, "flood", 100_000, "distinct source addresses of the flood (0: none)")
	fs.StringVar(&o.cache, "cache", ".cache/debs", "where Debian's chrony is downloaded and unpacked")
	fs.StringVar(&o.chronyd, "chronyd", "", "chronyd binary to use instead of fetching Debian's")
	fs.BoolVar(&o.strict, "strict", false, "exit 3 when a target is missed")
	fs.StringVar(&o.childAddr, "child-serve", "", "internal: serve on this address and wait")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.childAddr != "" {
		return child(o, stdout, stderr)
	}
	res, err := bench(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench-serve:", err)
		return 1
	}
	if !report(stdout, o, res) && o.strict {
		return 3
	}
	return 0
}

// restrictRules returns n rules: a default that limits, n−3 for networks
// the load never comes from, the load's own (127/8, no limits) and the
// flood's (127.100.0.0/15, limited kod: every source enters the rate
// limiter's table).
func restrictRules(n int) []string {
	rules := []string{"default kod limited nomodify notrap nopeer noquery", "127.100.0.0 mask 255.254.0.0 limited kod"}
	for i := 0; len(rules) < n-1; i++ {
		switch i % 3 {
		case 0:
			rules = append(rules, fmt.Sprintf("10.%d.%d.0 mask 255.255.255.0 nomodify noquery", i/256%256, i%256))
		case 1:
			rules = append(rules, fmt.Sprintf("192.168.%d.%d noserve", i/256%256, i%256))
		default:
			rules = append(rules, fmt.Sprintf("2001:db8:%x:: mask ffff:ffff:ffff:: limited kod", i))
		}
	}
	return append(rules, "127.0.0.0 mask 255.0.0.0 nomodify notrap nopeer noquery")
}

// child is our server's process: serve until stdin closes.
func child(o options, stdout, stderr io.Writer) int {
	s := serve.New(serve.Options{})
	var rs []config.Restrict
	for _, l := range restrictRules(o.rules) {
		r, err := config.ParseRestrict(strings.Fields(l)...)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		rs = append(rs, r)
	}
	s.SetRules(rs)
	s.SetSync(serve.SyncState{Synchronized: true, Stratum: 2, RefID: [4]byte{127, 127, 1, 0}, RefTime: time.Now()})
	if err := s.Listen([]string{o.childAddr}); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "ready %d rules\n", s.Rules().Len())
	io.Copy(io.Discard, os.Stdin)
	s.Close()
	c := s.Counters()
	fmt.Fprintf(stderr, "timesync server counters: %+v; rate limiter holds %d of %d clients\n", c, s.Limiter().Len(), s.Limiter().Cap())
	return 0
}

// proc is a server process under test.
type proc struct {
	name string
	addr netip.AddrPort
	cmd  *exec.Cmd
	stop func()
}

type results struct {
	rates, cpu   map[string][]float64 // answered/s; answered per CPU-second
	mem          map[string]int64     // RSS growth under the flood, bytes
	memBefore    map[string]int64
	floodSent    int
	floodAnswers map[string]int64
}

func bench(o options, progress io.Writer) (*results, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ch, err := debs.PrepareChrony(o.chronyd, o.cache, progress)
	if err != nil {
		return nil, fmt.Errorf("chronyd: %w", err)
	}
	dir, err := os.MkdirTemp("", "bench-serve")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	ours, err := startOurs(self, o)
	if err != nil {
		return nil, err
	}
	defer ours.stop()
	chrony, err := startChronyd(ch, dir)
	if err != nil {
		return nil, err
	}
	defer chrony.stop()
	for _, p := range []*proc{ours, chrony} {
		if err := waitAnswer(p.addr, 20*time.Second); err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
	}

	res := &results{rates: map[string][]float64{}, cpu: map[string][]float64{}, mem: map[string]int64{},
		memBefore: map[string]int64{}, floodAnswers: map[string]int64{}}
	for r := 0; r < o.rounds; r++ {
		order := []*proc{ours, chrony}
		if r%2 == 1 {
			order = []*proc{chrony, ours}
		}
		for _, p := range order {
			cpu0, _ := procstat.CPUTime(p.cmd.Process.Pid)
			n, el := load(p.addr, o)
			cpu1, _ := procstat.CPUTime(p.cmd.Process.Pid)
			rate := float64(n) / el.Seconds()
			perCPU := 0.0
			if d := (cpu1 - cpu0).Seconds(); d > 0 {
				perCPU = float64(n) / d
			}
			res.rates[p.name] = append(res.rates[p.name], rate)
			res.cpu[p.name] = append(res.cpu[p.name], perCPU)
			fmt.Fprintf(progress, "round %d  %-8s %9.0f answered/s  %9.0f per CPU-second\n", r+1, p.name, rate, perCPU)
		}
	}
	if o.flood > 0 {
		for _, p := range []*proc{ours, chrony} {
			before, err := procstat.RSS(p.cmd.Process.Pid)
			if err != nil {
				return nil, err
			}
			sent, answered, err := flood(p.addr, o.flood)
			if err != nil {
				return nil, fmt.Errorf("flood of %s: %w", p.name, err)
			}
			time.Sleep(500 * time.Millisecond)
			after, err := procstat.RSS(p.cmd.Process.Pid)
			if err != nil {
				return nil, err
			}
			res.floodSent = sent
			res.memBefore[p.name], res.mem[p.name], res.floodAnswers[p.name] = before, after-before, answered
			fmt.Fprintf(progress, "flood    %-8s %d sources, %d answers seen, RSS %.1f → %.1f MB\n", p.name, sent, answered,
				float64(before)/(1<<20), float64(after)/(1<<20))
		}
	}
	return res, nil
}

func startOurs(self string, o options) (*proc, error) {
	addr := "127.0.91.1:12391"
	cmd := exec.Command(self, "-child-serve", addr, "-rules", strconv.Itoa(o.rules))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready") {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("our server did not start: %q %v", line, err)
	}
	fmt.Fprintf(os.Stderr, "timesync server on %s: %s", addr, line)
	return &proc{name: "timesync", addr: netip.MustParseAddrPort(addr), cmd: cmd, stop: func() {
		in.Close() // our server exits when its standard input closes
		procstat.Stop(cmd, 5*time.Second)
	}}, nil
}

// startChronyd runs chronyd -x -d as a server of this machine's own
// clock ("local stratum 2", "allow"), without CAP_SYS_TIME when root.
func startChronyd(ch *debs.Chronyd, dir string) (*proc, error) {
	addr := netip.MustParseAddrPort("127.0.91.2:12392")
	conf := filepath.Join(dir, "chrony.conf")
	text := fmt.Sprintf("allow\nlocal stratum 2\nbindaddress %s\nport %d\ncmdport 0\npidfile %s/chronyd.pid\n",
		addr.Addr(), addr.Port(), dir)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	args := []string{ch.Bin, "-x", "-d", "-f", conf}
	if os.Geteuid() == 0 {
		args = append([]string{"setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time"}, append(args, "-u", "root")...)
	} else {
		args = append(args, "-U")
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env, cmd.Dir = ch.Env, dir
	logf, err := os.Create(filepath.Join(dir, "chronyd.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// The server's process: with setpriv, chronyd replaces it (exec).
	return &proc{name: "chronyd", addr: addr, cmd: cmd, stop: func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	}}, nil
}

// request returns a client request whose transmit timestamp carries id.
func request(id uint64) []byte {
	b := make([]byte, serve.HeaderLen)
	b[0] = 4<<3 | serve.ModeClient
	binary.BigEndian.PutUint64(b[40:], id)
	return b
}

func waitAnswer(to netip.AddrPort, within time.Duration) error {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 512)
	for deadline := time.Now().Add(within); time.Now().Before(deadline); {
		c.WriteToUDPAddrPort(request(1), to)
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, _, err := c.ReadFromUDPAddrPort(buf); err == nil && n >= serve.HeaderLen {
			return nil
		}
	}
	return fmt.Errorf("no answer from %v within %v", to, within)
}

// load runs the closed-loop load against to for o.duration and returns
// the replies received and the time taken.
func load(to netip.AddrPort, o options) (int64, time.Duration) {
	var answered atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	start := time.Now()
	for s := 0; s < o.senders; s++ {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		if err != nil {
			panic(err)
		}
		c.SetReadBuffer(1 << 20)
		var last atomic.Int64 // unix nanos of the last reply
		last.Store(time.Now().UnixNano())
		burst := func() {
			for i := 0; i < o.inflight; i++ {
				c.WriteToUDPAddrPort(request(uint64(i)), to)
			}
		}
		wg.Add(2)
		go func() { // reader: one reply, one new request
			defer wg.Done()
			buf := make([]byte, 512)
			req := request(0)
			for {
				n, _, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				if n >= serve.HeaderLen {
					answered.Add(1)
					last.Store(time.Now().UnixNano())
					c.WriteToUDPAddrPort(req, to)
				}
			}
		}()
		go func() { // watchdog: lost replies are replaced
			defer wg.Done()
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			burst()
			for {
				select {
				case <-stop:
					c.Close()
					return
				case <-t.C:
					if time.Since(time.Unix(0, last.Load())) > 50*time.Millisecond {
						burst()
						last.Store(time.Now().UnixNano())
					}
				}
			}
		}()
	}
	time.Sleep(o.duration)
	n := answered.Load()
	el := time.Since(start)
	close(stop)
	wg.Wait()
	return n, el
}

// flood sends one request from each of n distinct loopback addresses and
// counts the replies that arrived while it went on.
func flood(to netip.AddrPort, n int) (int, int64, error) {
	var answered int64
	buf := make([]byte, 512)
	for i := 0; i < n; i++ {
		a := netip.AddrFrom4([4]byte{127, byte(100 + i>>16), byte(i >> 8), byte(i)})
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 0)))
		if err != nil {
			return i, answered, fmt.Errorf("bind %v: %w", a, err)
		}
		c.WriteToUDPAddrPort(request(uint64(i)), to)
		if i%1000 == 0 { // sample: wait for this one's reply
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if m, _, err := c.ReadFromUDPAddrPort(buf); err == nil && m >= serve.HeaderLen {
				answered++
			}
		}
		c.Close()
	}
	return n, answered, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// report prints the table and the verdicts; it reports whether every
// target was met.
func report(w io.Writer, o options, r *results) bool {
	fmt.Fprintf(w, "\nloopback, %d senders × %d in flight, %d rounds of %v each, alternating; our server: %d restrict rules\n",
		o.senders, o.inflight, o.rounds, o.duration, o.rules)
	fmt.Fprintf(w, "%-10s %14s %16s %20s\n", "server", "answered/s", "per CPU-second", "RSS growth, flood")
	for _, n := range []string{"timesync", "chronyd"} {
		mem := "-"
		if o.flood > 0 {
			mem = fmt.Sprintf("%+.2f MB", float64(r.mem[n])/(1<<20))
		}
		fmt.Fprintf(w, "%-10s %14.0f %16.0f %20s\n", n, median(r.rates[n]), median(r.cpu[n]), mem)
	}
	ratio := median(r.rates["timesync"]) / median(r.rates["chronyd"])
	ok := ratio >= targetRatio
	fmt.Fprintf(w, "throughput: timesync %.2f× chronyd's (target ≥ %.1f×): %s\n", ratio, targetRatio, verdict(ratio >= targetRatio))
	fmt.Fprintf(w, "efficiency: timesync %.2f× chronyd's answers per CPU-second\n", median(r.cpu["timesync"])/median(r.cpu["chronyd"]))
	if o.flood > 0 {
		g := r.mem["timesync"]
		ok = ok && g < targetMemBytes
		fmt.Fprintf(w, "memory: flood from %d distinct source addresses: timesync RSS %+.2f MB (target < %d MB): %s\n",
			r.floodSent, float64(g)/(1<<20), targetMemBytes>>20, verdict(g < targetMemBytes))
	}
	return ok
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}
