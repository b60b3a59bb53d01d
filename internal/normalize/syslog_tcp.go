package normalize

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// DefaultSyslogMax is SplitSyslogTCP's message size limit when max <= 0: 64 KiB, eight
// times the 8192 bytes RFC 5425 asks every receiver to accept.
const DefaultSyslogMax = 64 << 10

// maxCountDigits bounds the MSG-LEN of octet counting: ten digits (9999999999) are far
// beyond any limit, and anything longer is not a length.
const maxCountDigits = 10

// ErrMessageTooLarge is wrapped by the error SplitSyslogTCP returns when it skipped
// messages over its size limit.
var ErrMessageTooLarge = errors.New("syslog message over the size limit")

// SplitSyslogTCP reads syslog messages from a TCP stream, framed as RFC 6587 describes,
// and calls fn for each. The framing is detected per message: one that starts with a
// digit 1-9 followed by digits and a space is octet-counted ("MSG-LEN SP MSG", section
// 3.4.1); any other is non-transparent, ended by LF or NUL (section 3.4.2), with a CR
// before the LF dropped. Empty messages are skipped; a last message without its LF is
// passed on at the end of the stream.
//
// msg is only valid during the call: SplitSyslogTCP reuses its memory and r's. An error
// from fn stops SplitSyslogTCP, which returns it unchanged.
//
// A message longer than max bytes (max <= 0 means DefaultSyslogMax) is skipped and the
// rest continues, with memory bounded by max and r's buffer; at the end the returned
// error wraps ErrMessageTooLarge and says how many were skipped and the size and offset
// of the first. An octet-counted message cut by the end of the stream is an error
// wrapping io.ErrUnexpectedEOF. The end of the stream (io.EOF) is not an error.
func SplitSyslogTCP(r *bufio.Reader, max int, fn func(msg []byte) error) error {
	if max <= 0 {
		max = DefaultSyslogMax
	}
	s := tcpSplitter{r: r, max: max, fn: fn}
	return s.finish(s.run())
}

type tcpSplitter struct {
	r   *bufio.Reader
	max int
	fn  func([]byte) error

	acc []byte // a message longer than r's buffer
	off int64  // bytes consumed so far

	skipped   int   // oversized messages skipped
	firstSize int64 // size of the first one
	firstOff  int64 // and its offset
}

// errFn marks an error returned by fn, to be passed on unchanged.
type errFn struct{ err error }

func (e errFn) Error() string { return e.err.Error() }

func (s *tcpSplitter) finish(err error) error {
	var ef errFn
	if errors.As(err, &ef) {
		return ef.err
	}
	if err == io.EOF {
		err = nil
	}
	if s.skipped == 0 {
		return err
	}
	skip := fmt.Errorf("skipped %d messages over %d bytes, the first of %d bytes at offset %d: %w",
		s.skipped, s.max, s.firstSize, s.firstOff, ErrMessageTooLarge)
	if err == nil {
		return skip
	}
	return errors.Join(err, skip)
}

func (s *tcpSplitter) skip(size, off int64) {
	if s.skipped == 0 {
		s.firstSize, s.firstOff = size, off
	}
	s.skipped++
}

func (s *tcpSplitter) emit(msg []byte) error {
	if len(msg) == 0 {
		return nil
	}
	if err := s.fn(msg); err != nil {
		return errFn{err}
	}
	return nil
}

func (s *tcpSplitter) discard(n int) error {
	d, err := s.r.Discard(n)
	s.off += int64(d)
	return err
}

func (s *tcpSplitter) run() error {
	for {
		b, err := s.r.Peek(1)
		if len(b) == 0 {
			return err
		}
		if b[0] >= '1' && b[0] <= '9' {
			n, hdr, ok, err := s.msgLen()
			if err != nil && err != io.EOF {
				return err
			}
			if ok {
				if err := s.octets(n, hdr); err != nil {
					return err
				}
				continue
			}
		}
		if err := s.line(); err != nil {
			return err
		}
	}
}

// msgLen reads an octet count "MSG-LEN SP" ahead without consuming it. Each Peek asks for
// one more byte only, so a short message is never held back waiting for more data.
func (s *tcpSplitter) msgLen() (n int64, hdr int, ok bool, err error) {
	for k := 0; ; k++ {
		p, err := s.r.Peek(k + 1)
		if len(p) <= k {
			return 0, 0, false, err
		}
		c := p[k]
		switch {
		case isDigit(c) && k < maxCountDigits:
			n = n*10 + int64(c-'0')
		case c == ' ':
			return n, k + 1, true, nil
		default:
			return 0, 0, false, nil
		}
	}
}

// octets reads an octet-counted message of n bytes after its hdr-byte header.
func (s *tcpSplitter) octets(n int64, hdr int) error {
	start := s.off
	if err := s.discard(hdr); err != nil {
		return err
	}
	truncated := func(got int64) error {
		return fmt.Errorf("octet-counted message at offset %d: stream ends after %d of its %d bytes: %w", start, got, n, io.ErrUnexpectedEOF)
	}
	if n > int64(s.max) {
		s.skip(n, start)
		before := s.off
		if err := s.discardLarge(n); err != nil {
			if err == io.EOF {
				return truncated(s.off - before)
			}
			return err
		}
		return nil
	}
	if int(n) <= s.r.Size() {
		p, err := s.r.Peek(int(n))
		if len(p) < int(n) {
			if err == io.EOF {
				return truncated(int64(len(p)))
			}
			return err
		}
		if err := s.emit(p); err != nil {
			return err
		}
		return s.discard(int(n))
	}
	s.acc = append(s.acc[:0], make([]byte, n)...)
	got, err := io.ReadFull(s.r, s.acc)
	s.off += int64(got)
	if err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return truncated(int64(got))
		}
		return err
	}
	return s.emit(s.acc)
}

// discardLarge discards n bytes in steps that fit an int.
func (s *tcpSplitter) discardLarge(n int64) error {
	for n > 0 {
		step := int(min(n, 1<<30))
		before := s.off
		err := s.discard(step)
		n -= s.off - before
		if err != nil {
			return err
		}
	}
	return nil
}

// line reads a message ended by LF or NUL (or by the end of the stream).
func (s *tcpSplitter) line() error {
	start := s.off
	s.acc = s.acc[:0]
	size, over := 0, false
	for {
		n := s.r.Buffered()
		if n == 0 {
			if _, err := s.r.Peek(1); err != nil {
				// The end of the stream ends the last message.
				if over {
					s.skip(int64(size), start)
				} else if err == io.EOF {
					if err := s.emit(trimCR(s.acc)); err != nil {
						return err
					}
				}
				return err
			}
			n = s.r.Buffered()
		}
		buf, _ := s.r.Peek(n)
		k := bytes.IndexByte(buf, '\n')
		if k < 0 {
			k = len(buf)
		}
		if z := bytes.IndexByte(buf[:k], 0); z >= 0 {
			k = z
		}
		if k == len(buf) {
			// No end yet: keep what we have (up to max) and read on.
			size += n
			if !over && size > s.max {
				over, s.acc = true, s.acc[:0]
			}
			if !over {
				s.acc = append(s.acc, buf...)
			}
			if err := s.discard(n); err != nil {
				return err
			}
			continue
		}
		size += k
		if size > s.max {
			over = true
		}
		if over {
			s.skip(int64(size), start)
		} else {
			msg := buf[:k]
			if len(s.acc) > 0 {
				s.acc = append(s.acc, msg...)
				msg = s.acc
			}
			if err := s.emit(trimCR(msg)); err != nil {
				return err
			}
		}
		return s.discard(k + 1)
	}
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}
