package normalize

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// MaxDocSize is the largest document (and line) Lines handles: 16 MiB. A larger one is
// reported to onErr and skipped, so memory stays bounded whatever the input.
const MaxDocSize = 16 << 20

// ErrTooLarge is reported to Lines' onErr for a document or line over MaxDocSize.
var ErrTooLarge = errors.New("document larger than 16 MiB")

// Lines splits NDJSON input (one JSON object per line; also accepts a stream of
// concatenated/pretty-printed objects as in the evtx_dump .json files, and a top-level
// array of objects as in Suricata samples) and calls fn for each document with its 1-based
// line number (the line the document starts on). A line that is not valid JSON is reported
// to onErr with its line number and the rest continues.
//
// Every document passed to fn is syntactically valid JSON and an object. doc is only valid
// during the call: Lines reuses its memory. An error from fn stops Lines, which returns
// it; a read error is returned too. After a malformed document that spans several lines,
// the lines up to the next one starting with '{' are skipped without further reports, as
// they are most likely its remainder.
func Lines(r io.Reader, fn func(line int, doc []byte) error, onErr func(line int, err error)) error {
	s := splitter{br: bufio.NewReaderSize(r, 64<<10), fn: fn, onErr: onErr}
	s.sc.reset()
	return s.run()
}

type splitter struct {
	br    *bufio.Reader
	fn    func(int, []byte) error
	onErr func(int, error)
	sc    scanner // validating, no tape

	long []byte // a line longer than br's buffer
	buf  []byte // the document so far, when it spans lines

	lineNo  int
	docLine int  // line the document in buf starts on
	inDoc   bool // a document is open (in buf)
	resync  bool // skip lines until one starts with '{'
	inArray bool // inside a top-level '[' … ']'
	wantSep bool // inside the array, after an element: ',' or ']'
}

// readLine returns the next line with its '\n', or io.EOF. A line over MaxDocSize is
// reported and skipped.
func (s *splitter) readLine() ([]byte, error) {
	for {
		line, err := s.br.ReadSlice('\n')
		if err == nil || (err == io.EOF && len(line) > 0) {
			s.lineNo++
			return line, nil
		}
		if err != bufio.ErrBufferFull {
			return nil, err
		}
		// A long line: collect it, up to the limit.
		s.long = append(s.long[:0], line...)
		tooLarge := false
		for err == bufio.ErrBufferFull {
			line, err = s.br.ReadSlice('\n')
			if !tooLarge && len(s.long)+len(line) > MaxDocSize {
				tooLarge = true
				s.long = s.long[:0]
			}
			if !tooLarge {
				s.long = append(s.long, line...)
			}
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		s.lineNo++
		if !tooLarge {
			return s.long, nil
		}
		s.report(s.lineNo, ErrTooLarge)
		if s.inDoc {
			s.report(s.docLine, fmt.Errorf("document cut by the over-long line %d: %w", s.lineNo, ErrTooLarge))
			s.inDoc = false
		}
		s.resync = true
		if s.dropBig(cap(s.long)) {
			s.long = nil // do not keep a huge buffer
		}
		if err == io.EOF {
			return nil, io.EOF
		}
	}
}

// dropBig reports whether a buffer of n bytes is worth dropping after use.
func (s *splitter) dropBig(n int) bool { return n > 1<<20 }

func (s *splitter) report(line int, err error) {
	if s.onErr != nil {
		s.onErr(line, err)
	}
}

func (s *splitter) run() error {
	first := true
	for {
		line, err := s.readLine()
		if err == io.EOF {
			if s.inDoc {
				s.report(s.docLine, fmt.Errorf("line %d: unexpected end of input inside the document", s.docLine))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read line %d: %w", s.lineNo+1, err)
		}
		if first {
			first = false
			if len(line) >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF {
				line = line[3:] // UTF-8 byte order mark
			}
		}
		if err := s.line(line); err != nil {
			return err
		}
	}
}

// line processes one line of input.
func (s *splitter) line(line []byte) error {
	pos := 0
	if s.inDoc {
		// Continue the open document with this line.
		prev := len(s.buf)
		if prev+len(line) > MaxDocSize {
			s.report(s.docLine, fmt.Errorf("line %d: %w", s.docLine, ErrTooLarge))
			s.closeDoc()
			s.resync = true
			return nil
		}
		s.buf = append(s.buf, line...)
		end, res, err := s.sc.scan(s.buf, prev)
		switch {
		case err != nil:
			s.syntax(err, 0)
			s.closeDoc()
			// Start again at this line: it may begin the next document (the open one
			// was a truncated line) or be the remainder of the broken one.
			s.resync = true
			pos = 0
		case res == scanMore:
			return nil
		default:
			if err := s.emit(s.buf[:end], s.docLine); err != nil {
				return err
			}
			pos = end - prev
			s.closeDoc()
		}
	}
	for {
		for pos < len(line) && spaceTab[line[pos]] {
			pos++
		}
		if pos >= len(line) {
			return nil
		}
		c := line[pos]
		if s.resync {
			if c != '{' {
				return nil
			}
			s.resync, s.inArray = false, false
		}
		if s.inArray {
			switch {
			case c == ']':
				s.inArray = false
				pos++
				continue
			case s.wantSep && c == ',':
				s.wantSep = false
				pos++
				continue
			case s.wantSep:
				s.report(s.lineNo, fmt.Errorf("line %d: expected ',' or ']' after an array element, found %s", s.lineNo, quoteByte(c)))
				s.inArray = false
				return nil
			}
		} else if c == '[' {
			s.inArray, s.wantSep = true, false
			pos++
			continue
		}
		if c != '{' {
			s.report(s.lineNo, fmt.Errorf("line %d: expected a JSON object, found %s", s.lineNo, quoteByte(c)))
			s.inArray = false
			return nil
		}
		// A document starts at line[pos].
		s.sc.reset()
		end, res, err := s.sc.scan(line, pos)
		if err != nil {
			s.docLine = s.lineNo
			s.syntax(err, pos)
			s.inArray = false
			return nil // the rest of the line cannot be trusted
		}
		if res == scanMore {
			s.docLine, s.inDoc = s.lineNo, true
			s.buf = append(s.buf[:0], line[pos:]...)
			return nil
		}
		if err := s.emit(line[pos:end], s.lineNo); err != nil {
			return err
		}
		pos = end
	}
}

func (s *splitter) emit(doc []byte, line int) error {
	if s.inArray {
		s.wantSep = true
	}
	return s.fn(line, doc)
}

func (s *splitter) closeDoc() {
	s.inDoc = false
	if s.dropBig(cap(s.buf)) {
		s.buf = nil
	} else {
		s.buf = s.buf[:0]
	}
}

// syntax reports a scanner error of the open document, whose text starts at offset base
// of the buffer the scanner was given. The offset is made relative to the document.
func (s *splitter) syntax(err error, base int) {
	var se *SyntaxError
	if errors.As(err, &se) {
		se.Offset -= base
	}
	if s.lineNo != s.docLine {
		s.report(s.docLine, fmt.Errorf("line %d (document from line %d): %w", s.lineNo, s.docLine, err))
		return
	}
	s.report(s.docLine, fmt.Errorf("line %d: %w", s.docLine, err))
}
