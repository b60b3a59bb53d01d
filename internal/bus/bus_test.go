package bus

import "testing"

func TestPartition(t *testing.T) {
	f := func(tenant string, n, want int) {
		t.Helper()
		if got := Partition(tenant, n); got != want {
			t.Fatalf("Partition(%q, %d) = %d, want %d", tenant, n, got, want)
		}
	}
	f("acme", 1, 0)
	f("acme", 0, 0)
	// Pinned values (FNV-1a 32 mod n): the mapping is part of the stored
	// format, so a change here must fail.
	f("acme", 16, 15)
	f("org-0", 16, 4)
	f("mamori", 7, 5)
	seen := map[int]bool{}
	for i := range 1000 {
		p := Partition(string(rune('a'+i%26))+string(rune('a'+i/26)), 16)
		if p < 0 || p >= 16 {
			t.Fatalf("partition %d out of range", p)
		}
		seen[p] = true
	}
	if len(seen) != 16 {
		t.Fatalf("1000 tenants hit %d of 16 partitions", len(seen))
	}
}
