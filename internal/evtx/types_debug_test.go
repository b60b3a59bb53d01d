package evtx

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestTypesDebug(t *testing.T) {
	if os.Getenv("EVTX_TYPES") == "" {
		t.Skip()
	}
	dir := filepath.Join(testDataDir(t), "evtx", "hayabusa-sample-evtx")
	counts := map[uint8]int{}
	ex := map[uint8]string{}
	raw := 0
	for _, p := range findFiles(t, dir, ".evtx") {
		data, _ := os.ReadFile(p)
		f, err := Open(data)
		if err != nil {
			continue
		}
		for i := range f.NumChunks() {
			c := f.chunk(i)
			if string(c[:8]) != "ElfChnk\x00" {
				continue
			}
			end := le32(c, 48)
			for off := 512; off+24 <= end; {
				size, err := recordSize(c, off, end)
				if err != nil {
					break
				}
				walkTypes(c, off+24, le64(c, off+8), filepath.Base(p), counts, ex, &raw)
				off += size
			}
		}
	}
	fmt.Println("raw records:", raw)
	for typ, n := range counts {
		fmt.Printf("%#02x %7d %s\n", typ, n, ex[typ])
	}
}

func walkTypes(c []byte, pos int, id uint64, name string, counts map[uint8]int, ex map[uint8]string, raw *int) {
	if c[pos] == 0x0f {
		pos += 4
	}
	if c[pos] != 0x0c {
		*raw++
		return
	}
	defOff := le32(c, pos+6)
	q := pos + 10
	if defOff == q {
		q += 24 + le32(c, q+20)
	}
	n := le32(c, q)
	q += 4
	vp := q + 4*n
	for k := range n {
		sz := le16(c, q+4*k)
		typ := c[q+4*k+2]
		counts[typ]++
		if _, ok := ex[typ]; !ok && sz > 0 {
			ex[typ] = fmt.Sprintf("%s rec %d: % x => %q", name, id, c[vp:vp+min(sz, 24)], appendValue(nil, typ, c[vp:vp+sz]))
		}
		if typ == 0x21 && sz > 0 {
			walkTypes(c, vp, id, name, counts, ex, raw)
		}
		vp += sz
	}
}
