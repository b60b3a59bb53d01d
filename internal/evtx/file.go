package evtx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

const (
	// fileHeaderBlockSize is where the first chunk starts. The header's own
	// "header block size" field always says 4096 in real files; we do not
	// trust it, because a corrupt value would shift every chunk.
	fileHeaderBlockSize = 4096
	// fileHeaderSize is the part of the header block that carries fields.
	fileHeaderSize = 128
	// chunkSize is the fixed size of every chunk.
	chunkSize = 65536
	// chunkHeaderSize is where a chunk's first record starts.
	chunkHeaderSize = 512
)

var (
	fileMagic  = []byte("ElfFile\x00")
	chunkMagic = []byte("ElfChnk\x00")
)

// File is an opened EVTX file held in memory. It is read-only after Open, so
// several Decoders may decode its chunks in parallel.
type File struct {
	data    []byte
	nchunks int
}

// Open checks the file header of data and returns a File that reads chunks
// from it. data is not copied and must not change while the File is in use.
//
// Only the signature and the size are checked: the version, the chunk count
// and the checksum in the header are advisory, and real files (for example
// ones copied while the log was open) often carry stale values there while
// their chunks are fine.
func Open(data []byte) (*File, error) {
	if len(data) < len(fileMagic) {
		return nil, fmt.Errorf("evtx file header: file is %d bytes, too short for the signature", len(data))
	}
	if !bytes.Equal(data[:len(fileMagic)], fileMagic) {
		return nil, fmt.Errorf("evtx file header: signature is %q, want %q", data[:len(fileMagic)], fileMagic)
	}
	if len(data) < fileHeaderSize {
		return nil, fmt.Errorf("evtx file header: file is %d bytes, want at least %d", len(data), fileHeaderSize)
	}
	f := &File{data: data}
	if rest := len(data) - fileHeaderBlockSize; rest > 0 {
		// A trailing partial chunk still counts if it holds a whole chunk
		// header: a truncated copy of a log keeps the records it has, and
		// DecodeChunk bounds every read by the bytes that exist.
		f.nchunks = rest / chunkSize
		if rest%chunkSize >= chunkHeaderSize {
			f.nchunks++
		}
	}
	return f, nil
}

// NumChunks returns how many chunks exist in the data, counted by size: the
// chunk count in the file header is not trusted.
func (f *File) NumChunks() int { return f.nchunks }

// chunk returns the bytes of chunk i, shorter than chunkSize only for a
// truncated last chunk.
func (f *File) chunk(i int) []byte {
	start := fileHeaderBlockSize + i*chunkSize
	end := min(start+chunkSize, len(f.data))
	return f.data[start:end:end]
}

// ReadFile decodes every record of the EVTX file at path, in order, with one
// Decoder. Per-record and per-chunk errors are collected and returned joined
// after the whole file was read; an error returned by fn stops the read and is
// returned as is.
func ReadFile(path string, fn func(r *Record) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read evtx file: %w", err)
	}
	f, err := Open(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	d := NewDecoder()
	var cbErr error
	wrapped := func(r *Record) error {
		cbErr = fn(r)
		return cbErr
	}
	var errs []error
	for i := range f.NumChunks() {
		err := d.DecodeChunk(f, i, wrapped)
		if cbErr != nil {
			return cbErr
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w", path, errors.Join(errs...))
	}
	return nil
}

func le16(b []byte, off int) int { return int(binary.LittleEndian.Uint16(b[off:])) }
func le32(b []byte, off int) int { return int(binary.LittleEndian.Uint32(b[off:])) }
func le64(b []byte, off int) uint64 {
	return binary.LittleEndian.Uint64(b[off:])
}
