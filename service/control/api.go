package control

import (
	"time"

	"github.com/timesync/timesync/service/config"
)

// The JSON names below are a promise to scripts and to the GUI
// (DESIGN.md, "status --json"): add fields, never rename them.

// Status is GET /v1/status, and the payload of the watch's "status"
// event.
type Status struct {
	// State is "synchronized", "syncing" or "unsynchronized".
	State string `json:"state"`
	// ReasonCode and Reason say why the state is not synchronized: a
	// stable code (Reason* constants) and words for people. Both are
	// empty when synchronized.
	ReasonCode string `json:"reason_code,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// OffsetSeconds is the offset (reference − local; positive: the
	// clock is behind) found at the last update, OffsetErrorSeconds its
	// standard error.
	OffsetSeconds      float64 `json:"offset_seconds"`
	OffsetErrorSeconds float64 `json:"offset_error_seconds"`
	// FrequencyPPM is the frequency correction in force (positive: the
	// clock is made faster), SkewPPM the standard error of its estimate.
	FrequencyPPM float64 `json:"frequency_ppm"`
	SkewPPM      float64 `json:"skew_ppm"`
	// Reference is the system peer's address ("" when none), Stratum
	// ours (16: unsynchronized).
	Reference string `json:"reference"`
	Stratum   int    `json:"stratum"`
	// LastSync is the wall-clock time of the last correction, RFC 3339;
	// null when the clock has never been corrected by this run.
	LastSync *time.Time `json:"last_sync"`
	// RootDistanceSeconds is the estimated maximum error now (0 before
	// the first correction).
	RootDistanceSeconds float64 `json:"root_distance_seconds"`
	// PendingStepSeconds is the correction refused at the panic
	// threshold and waiting for "timesync sync --confirm"; absent when
	// none.
	PendingStepSeconds *float64 `json:"pending_step_seconds,omitempty"`
	// Updates counts the corrections made since the service started.
	Updates int `json:"updates"`
	// DryRun reports whether the service only measures (--dry-run).
	DryRun bool `json:"dry_run"`
	// DryRunCorrectionSeconds, in a dry run, is how far the service would
	// have moved the clock so far (positive: forward). A dry run steers a
	// virtual clock, as chronyd -x does, so offset_seconds is that
	// clock's; the real clock's offset is about this plus offset_seconds.
	DryRunCorrectionSeconds *float64 `json:"dry_run_correction_seconds,omitempty"`
	// Warnings are conditions worth a look even when synchronized, e.g.
	// another time service running.
	Warnings []string `json:"warnings,omitempty"`
	Sources  []Source `json:"sources"`
	// Server is the time server's account; absent when time is not
	// served (no listen line).
	Server *ServerStatus `json:"server,omitempty"`
}

// ServerStatus is what the time server did with the packets it received
// since the service started. Each packet counts once among Answered,
// DroppedByRule, RateLimited, Malformed and Refused; KoDSent counts the
// RATE kiss-o'-death replies sent to rate-limited clients.
type ServerStatus struct {
	// Listen lists the addresses served ("ADDRESS:PORT").
	Listen []string `json:"listen"`
	// Errors says why listen addresses that are not served are not
	// (e.g. the address is in use); retried at every change.
	Errors []string `json:"errors,omitempty"`
	// Answered: client requests answered with the time.
	Answered uint64 `json:"answered"`
	// DroppedByRule: packets dropped by an ignore or noserve rule.
	DroppedByRule uint64 `json:"dropped_by_rule"`
	// RateLimited: requests over a limited rule's rate.
	RateLimited uint64 `json:"rate_limited"`
	// KoDSent: RATE kiss-o'-death replies sent.
	KoDSent uint64 `json:"kod_sent"`
	// Malformed: datagrams that are not well-formed NTP packets.
	Malformed uint64 `json:"malformed"`
	// Refused: ntpq/ntpdc queries, symmetric, server and broadcast
	// packets (only client requests are served).
	Refused uint64 `json:"refused"`
}

// Reason codes of Status.ReasonCode.
const (
	ReasonStarting     = "starting"      // no server has answered yet
	ReasonNoServers    = "no_servers"    // the configuration names no server or pool
	ReasonUnresolved   = "unresolved"    // no configured name resolves
	ReasonNoReply      = "no_reply"      // no reply from any server (UDP 123 blocked?)
	ReasonRejected     = "rejected"      // every answering source was rejected
	ReasonKissOfDeath  = "kiss_of_death" // every answering server sent a kiss-o'-death
	ReasonNoMajority   = "no_majority"   // too few sources agree (minsources, falsetickers)
	ReasonPanic        = "panic"         // offset past the panic threshold awaits confirmation
	ReasonConflict     = "conflict"      // another time service is active
	ReasonSyncing      = "syncing"       // a correction is under way
	ReasonErrorBound   = "error_bound"   // too long since the last update
	ReasonUnsyncedMisc = "unsynchronized"
)

// Source is one time server's line in Status.
type Source struct {
	// Address is "ip:port", Name the configured host or pool name when
	// it was not an address.
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
	// State is "selected", "candidate", "falseticker", "unreachable",
	// "kod" or "invalid"; Reason says why in words.
	State  string `json:"state"`
	Reason string `json:"reason"`
	// OffsetSeconds (reference − local), DelaySeconds (round trip) and
	// JitterSeconds are the source's present estimates.
	OffsetSeconds float64 `json:"offset_seconds"`
	DelaySeconds  float64 `json:"delay_seconds"`
	JitterSeconds float64 `json:"jitter_seconds"`
	Stratum       int     `json:"stratum"`
	// PollSeconds is the present poll interval (0: no longer polled).
	PollSeconds float64 `json:"poll_seconds"`
	// Reach is the reachability register of the last eight polls, newest
	// in the lowest bit (printed in octal by tradition: 377 = all eight).
	Reach uint8 `json:"reach"`
	// Samples is how many measurements the discipline holds.
	Samples int `json:"samples"`
	// LastSampleSeconds is how long ago the last valid reply arrived;
	// null if none yet.
	LastSampleSeconds *float64 `json:"last_sample_seconds"`
	// LastOffsetSeconds and LastDelaySeconds are that reply's raw
	// measurement.
	LastOffsetSeconds float64 `json:"last_offset_seconds"`
	LastDelaySeconds  float64 `json:"last_delay_seconds"`
}

// Servers is GET /v1/servers.
type Servers struct {
	Servers []config.Server `json:"servers"`
	Pools   []config.Pool   `json:"pools"`
}

// ServerAdd is the body of POST /v1/servers: exactly one of Server and
// Pool.
type ServerAdd struct {
	Server *config.Server `json:"server,omitempty"`
	Pool   *config.Pool   `json:"pool,omitempty"`
}

// ServerRemove is the body of DELETE /v1/servers: exactly one of
// Address ("HOST[:PORT]" of a server) and Pool (a pool's name).
type ServerRemove struct {
	Address string `json:"address,omitempty"`
	Pool    string `json:"pool,omitempty"`
}

// Rule is one restrict rule as GET /v1/restrict lists it: the
// directive's text and its fields.
type Rule struct {
	Text string `json:"text"`
	config.Restrict
}

// Restrict is GET /v1/restrict: the rules in file order, and whether
// time is served at all (listen).
type Restrict struct {
	Rules   []Rule `json:"rules"`
	Serving bool   `json:"serving"`
	// Default is the rule applied to clients no rule matches.
	Default Rule `json:"default"`
}

// RestrictRemove is the body of DELETE /v1/restrict: "default",
// "ADDRESS", "ADDRESS/BITS" or "ADDRESS mask MASK".
type RestrictRemove struct {
	Target string `json:"target"`
}

// ConfigInfo is GET /v1/config. PUT /v1/config takes a config.Config
// (its JSON form) and answers with ConfigInfo.
type ConfigInfo struct {
	// Path is the file the service reads and saves.
	Path   string         `json:"path"`
	Config *config.Config `json:"config"`
	// Text is the file as the service would write it now.
	Text     string   `json:"text"`
	Warnings []string `json:"warnings,omitempty"`
	// Version counts accepted changes since the service started.
	Version int `json:"version"`
}

// SyncRequest is the body of POST /v1/sync (may be empty).
type SyncRequest struct {
	// Confirm applies the correction held past the panic threshold.
	Confirm bool `json:"confirm"`
}

// SyncResult answers POST /v1/sync.
type SyncResult struct {
	// Burst reports that a burst of requests went to every server.
	Burst bool `json:"burst"`
	// Confirmed reports that a held correction was confirmed.
	Confirmed bool `json:"confirmed"`
}

// History is GET /v1/history: the system's offset and frequency at each
// clock update, and every source's raw samples, between From and To.
// When the range holds more than the points asked for, each series is
// averaged over equal buckets of BucketSeconds (0: not downsampled).
type History struct {
	From          time.Time                `json:"from"`
	To            time.Time                `json:"to"`
	BucketSeconds float64                  `json:"bucket_seconds"`
	System        []SystemPoint            `json:"system"`
	Sources       map[string][]SamplePoint `json:"sources"`
}

// SystemPoint is one clock update (or a bucket's mean of several, N).
type SystemPoint struct {
	Time          time.Time `json:"time"`
	OffsetSeconds float64   `json:"offset_seconds"`
	// MinOffsetSeconds and MaxOffsetSeconds bound the bucket's offsets.
	MinOffsetSeconds float64 `json:"min_offset_seconds"`
	MaxOffsetSeconds float64 `json:"max_offset_seconds"`
	FrequencyPPM     float64 `json:"frequency_ppm"`
	N                int     `json:"n"`
}

// SamplePoint is one measurement of a source (or a bucket's mean of N).
type SamplePoint struct {
	Time             time.Time `json:"time"`
	OffsetSeconds    float64   `json:"offset_seconds"`
	MinOffsetSeconds float64   `json:"min_offset_seconds"`
	MaxOffsetSeconds float64   `json:"max_offset_seconds"`
	DelaySeconds     float64   `json:"delay_seconds"`
	N                int       `json:"n"`
}

// Event is one server-sent event of /v1/watch: "status" (a Status) or
// "config" (a ConfigInfo). ID increases by one per event the service
// publishes.
type Event struct {
	ID   uint64
	Kind string
	Data []byte // JSON
}

// Event kinds.
const (
	EventStatus = "status"
	EventConfig = "config"
)

// ErrorBody is every error's body.
type ErrorBody struct {
	Error string `json:"error"`
	// Field names the member of the request's JSON body the error
	// concerns, when it concerns one: a path of member names and list
	// indices from 0, as config.FieldError has it — "servers[1].minpoll"
	// or "tinker.panic_seconds" for PUT /v1/config, "server.address" for
	// POST /v1/servers, "addr" for POST /v1/restrict. Absent otherwise
	// (and from services before it was added).
	Field string `json:"field,omitempty"`
}
