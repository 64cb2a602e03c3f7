package privsep

// proto.go: the wire format between the engine and the parent. Each
// message is a frame: a 4-byte big-endian length, then that many bytes of
// JSON. A request is {"v":1,"id":N,"op":"…","args":{…}}; its reply is
// {"id":N,"ok":true,"result":{…}} or {"id":N,"error":"…","code":"…"}.
// A reply may carry one file descriptor (SCM_RIGHTS), for listen_udp.
// See README.md for the message set and the checks the parent makes.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/timesync/timesync/internal/strictjson"
)

// DefaultUser is the engine's user, created by the installers.
const DefaultUser = "timesync"

// Version is the protocol version; the parent refuses any other.
const Version = 1

// Frame bounds: a configuration file is the largest thing sent.
const (
	MaxFrame      = 512 << 10 // a whole frame
	MaxConfigText = 256 << 10 // the text of save_config
)

// Ops, the whole message set.
const (
	OpHello         = "hello"           // → Hello
	OpFrequency     = "frequency"       // → FrequencyResult
	OpSetFrequency  = "set_frequency"   // FrequencyArgs → SetFrequencyResult
	OpStep          = "step"            // StepArgs
	OpSetSyncStatus = "set_sync_status" // SyncStatusArgs
	OpLoadDrift     = "load_drift"      // → DriftArgs
	OpSaveDrift     = "save_drift"      // DriftArgs
	OpLoadConfig    = "load_config"     // → ConfigText
	OpSaveConfig    = "save_config"     // ConfigText
	OpCheckToken    = "check_token"     // TokenArgs
	OpListenUDP     = "listen_udp"      // ListenArgs → a descriptor
)

// Request is one message from the engine.
type Request struct {
	V    int             `json:"v"`
	ID   uint64          `json:"id"`
	Op   string          `json:"op"`
	Args json.RawMessage `json:"args,omitempty"`
}

// Reply answers one Request.
type Reply struct {
	ID     uint64          `json:"id"`
	OK     bool            `json:"ok,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	Code   string          `json:"code,omitempty"`
}

// Refusal codes.
const (
	CodeMalformed   = "malformed"   // not a well-formed message of a known op
	CodeUnknown     = "unknown"     // no such op
	CodeVersion     = "version"     // another protocol version
	CodeTooLarge    = "too_large"   // frame or text beyond its bound
	CodeRange       = "range"       // a value out of its allowed range
	CodePermission  = "permission"  // allowed only with what the message lacks
	CodeInvalid     = "invalid"     // a configuration that does not validate
	CodeNotExist    = "not_exist"   // nothing to load
	CodeUnsupported = "unsupported" // the driver cannot
	CodeFailed      = "failed"      // the operation itself failed
)

// Hello is the parent's answer to hello: what the engine's clock driver
// stands for.
type Hello struct {
	Version       int     `json:"version"`
	Driver        string  `json:"driver"`
	MaxFrequency  float64 `json:"max_frequency_ppm"`
	SyncStatus    bool    `json:"sync_status"`
	DryRun        bool    `json:"dry_run"`
	ConfigPath    string  `json:"config_path"`
	ConfirmTokens bool    `json:"confirm_tokens"`
}

type FrequencyResult struct {
	PPM float64 `json:"ppm"`
}

type FrequencyArgs struct {
	PPM float64 `json:"ppm"`
	// BasePPM, if set, is the disciplined part of PPM (without a slew in
	// progress): what the parent sets if the engine dies.
	BasePPM *float64 `json:"base_ppm,omitempty"`
	// Sync, if set, is a sync status to report after the frequency is
	// set (as OpSetSyncStatus): the engine's status of an update rides
	// on the end of its slew.
	Sync *SyncStatusArgs `json:"sync,omitempty"`
	// EndInNS, if set (with BasePPM), makes PPM a slew that the parent
	// ends: after this many nanoseconds it sets BasePPM, unless a later
	// request changed the frequency first (the engine's Clock ends a
	// slew with one before it steps). The
	// engine then neither wakes nor asks for the end of a routine slew.
	EndInNS *int64 `json:"end_in_ns,omitempty"`
}

// SetFrequencyResult says when the parent's driver made the change:
// the clock Go's timers run on (CLOCK_MONOTONIC on Linux,
// CLOCK_UPTIME_RAW on macOS) in nanoseconds, read around the driver's
// call. The engine accounts the
// change from then (platform.ChangeStamper), not from when it hears the
// reply, which on a busy machine can be tens of milliseconds later.
// Zero when the parent cannot read that clock (other systems).
type SetFrequencyResult struct {
	AppliedMonoNS int64 `json:"applied_mono_ns,omitempty"`
}

type StepArgs struct {
	OffsetNS int64  `json:"offset_ns"`
	Token    string `json:"token,omitempty"`
}

type SyncStatusArgs struct {
	Synced     bool  `json:"synced"`
	MaxErrorNS int64 `json:"max_error_ns"`
	EstErrorNS int64 `json:"est_error_ns"`
}

type DriftArgs struct {
	FrequencyPPM float64 `json:"frequency_ppm"`
	SkewPPM      float64 `json:"skew_ppm"`
}

type ConfigText struct {
	Text string `json:"text"`
}

type TokenArgs struct {
	Token string `json:"token"`
}

type ListenArgs struct {
	Network string `json:"network"`
	Address string `json:"address"`
}

// RefusedError is a refusal by the parent.
type RefusedError struct {
	Op, Code, Msg string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("privileged parent refused %s: %s", e.Op, e.Msg)
}

// ErrTooLarge is returned by readFrame for a frame beyond MaxFrame; the
// frame has been read past, so the stream stays in step.
var ErrTooLarge = errors.New("frame too large")

// writeFrame writes one frame.
func writeFrame(w io.Writer, body []byte) error {
	if len(body) > MaxFrame {
		return ErrTooLarge
	}
	buf := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[4:], body)
	_, err := w.Write(buf)
	return err
}

// readFrame reads one frame. A frame longer than MaxFrame is read and
// dropped, and reported as ErrTooLarge; a zero-length frame is returned
// empty (and refused by the caller as malformed).
func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			return nil, err
		}
		return nil, ErrTooLarge
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return body, nil
}

// decodeStrict decodes the JSON object data into the struct v: unknown,
// duplicate or differently-cased keys are refused at every depth
// (encoding/json alone takes the last of duplicates and ignores case:
// internal/strictjson), every field whose tag lacks omitempty must be
// present, and nothing may follow the object.
func decodeStrict(data []byte, v any) error {
	if len(data) == 0 {
		data = []byte("{}")
	}
	if err := strictjson.Check(data, v, true); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// More would miss a stray closing bracket: only the end may follow.
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// clip shortens what the engine sent for a log line or a reply.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
