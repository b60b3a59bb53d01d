package normalize

import (
	"bufio"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestSplitSyslogTCP(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name    string
		in      string
		max     int
		bufSize int // bufio size; 0: default
		want    []string
		wantErr string // substring; "" means nil
		errIs   error
	}{
		{name: "mixed octet counting, LF, NUL and CRLF",
			in:   "11 <13>hello a\n<13>line two\n4 <1>x\x00<14>nul-term\r\n\n\n",
			want: []string{"<13>hello a", "<13>line two", "<1>x", "<14>nul-term"}},
		{name: "octet-counted messages back to back", in: "3 abc3 def1 g",
			want: []string{"abc", "def", "g"}},
		{name: "octet-counted message holding LF and NUL", in: "6 a\nb\x00c\n\n",
			want: []string{"a\nb\x00c\n"}},
		{name: "last message without LF", in: "<13>a\n<13>b", want: []string{"<13>a", "<13>b"}},
		{name: "digits without a space are not a count", in: "2024-05-02T11:04:31Z host app: x\n123\n",
			want: []string{"2024-05-02T11:04:31Z host app: x", "123"}},
		{name: "eleven digits are not a count", in: "12345678901 x\n", want: []string{"12345678901 x"}},
		{name: "oversized octet-counted is skipped", in: "20 <13>aaaaaaaaaaaaaaaa<13>ok\n", max: 16,
			want: []string{"<13>ok"}, wantErr: "skipped 1 messages over 16 bytes, the first of 20 bytes at offset 0", errIs: ErrMessageTooLarge},
		{name: "oversized LF-framed is skipped", in: "<13>ok1\n<13>123456789\n<13>ok2\n", max: 8,
			want: []string{"<13>ok1", "<13>ok2"}, wantErr: "the first of 13 bytes at offset 8", errIs: ErrMessageTooLarge},
		{name: "oversized across buffer fills", in: "<13>" + long + "\n4 <1>y" + "<13>" + long, max: 50, bufSize: 16,
			want: []string{"<1>y"}, wantErr: "skipped 2 messages over 50 bytes, the first of 104 bytes at offset 0", errIs: ErrMessageTooLarge},
		{name: "longer than the buffer, within max", in: "104 <13>" + long + "<13>" + long + "\n", max: 200, bufSize: 16,
			want: []string{"<13>" + long, "<13>" + long}},
		{name: "truncated octet-counted", in: "<13>a\n30 <13>short", wantErr: "octet-counted message at offset 6: stream ends after 9 of its 30 bytes",
			want: []string{"<13>a"}, errIs: io.ErrUnexpectedEOF},
		{name: "truncated oversized", in: "300 <13>short", max: 100, wantErr: "stream ends after 9 of its 300 bytes", errIs: io.ErrUnexpectedEOF},
		{name: "truncated, longer than the buffer", in: "60 " + long[:40], max: 100, bufSize: 16, wantErr: "stream ends after 40 of its 60 bytes", errIs: io.ErrUnexpectedEOF},
		{name: "empty stream", in: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, slow := range []bool{false, true} {
				var r io.Reader = strings.NewReader(tc.in)
				if slow {
					r = iotest.OneByteReader(r)
				}
				br := bufio.NewReader(r)
				if tc.bufSize > 0 {
					br = bufio.NewReaderSize(r, tc.bufSize)
				}
				var got []string
				err := SplitSyslogTCP(br, tc.max, func(msg []byte) error {
					got = append(got, string(msg))
					return nil
				})
				if !slices.Equal(got, tc.want) {
					t.Errorf("slow %v: messages %q, want %q", slow, got, tc.want)
				}
				switch {
				case tc.wantErr == "" && err != nil:
					t.Errorf("slow %v: error %v, want nil", slow, err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Errorf("slow %v: error %v, want %q", slow, err, tc.wantErr)
				case tc.errIs != nil && !errors.Is(err, tc.errIs):
					t.Errorf("slow %v: error %v does not wrap %v", slow, err, tc.errIs)
				}
			}
		})
	}
}

// TestSplitSyslogTCPStops: an error from fn stops the split and comes back unchanged.
func TestSplitSyslogTCPStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := SplitSyslogTCP(bufio.NewReader(strings.NewReader("<1>a\n<1>b\n<1>c\n")), 0, func([]byte) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Fatalf("err %v after %d messages, want stop after 2", err, n)
	}
}

// TestSplitSyslogTCPDoesNotWait: a complete message is passed on without waiting for
// more data, as on a live connection that then goes quiet.
func TestSplitSyslogTCPDoesNotWait(t *testing.T) {
	for _, first := range []string{"4 <1>x", "<1>y\n"} {
		pr, pw := io.Pipe()
		got := make(chan string, 1)
		done := make(chan error, 1)
		go func() {
			done <- SplitSyslogTCP(bufio.NewReader(pr), 0, func(msg []byte) error {
				got <- string(msg)
				return nil
			})
		}()
		go pw.Write([]byte(first))
		select {
		case m := <-got:
			if m != "<1>x" && m != "<1>y" {
				t.Errorf("message %q", m)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%q: message not passed on while the connection stays open", first)
		}
		pw.Close()
		if err := <-done; err != nil {
			t.Errorf("%q: %v", first, err)
		}
	}
}
