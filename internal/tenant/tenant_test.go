package tenant

import "testing"

func TestScope(t *testing.T) {
	var zero Scope
	if !zero.Empty() || zero.Contains("a") {
		t.Error("the zero Scope must see nothing")
	}
	s := Only("b", "a", "b")
	if s.Empty() || !s.Contains("a") || !s.Contains("b") || s.Contains("c") {
		t.Errorf("Only(b, a, b) = %v", s)
	}
	if n := s.Narrow("c"); !n.Empty() {
		t.Errorf("Narrow to a tenant outside the scope = %v, want empty", n)
	}
	if n := s.Narrow("a", "c"); !n.Contains("a") || n.Contains("c") || n.Contains("b") {
		t.Errorf("Narrow(a, c) = %v, want only a", n)
	}
	if n := All().Narrow("x"); !n.Contains("x") || n.Contains("y") || n.IsAll() {
		t.Errorf("All().Narrow(x) = %v", n)
	}
	if !All().Contains("anything") || All().Empty() {
		t.Error("All must see every tenant")
	}
}

func TestSlugAndValid(t *testing.T) {
	for in, want := range map[string]ID{"Ministry of Health": "ministry-of-health", "  K-Water / HQ ": "k-water-hq", "ÉDF": "df"} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
		if !ValidID(string(Slug(in))) {
			t.Errorf("Slug(%q) is not a valid id", in)
		}
	}
	for _, bad := range []string{"", "A", "a b", "a_b", string(make([]byte, 65))} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
	if _, err := ParseSector("Energy-Power"); err != nil {
		t.Error(err)
	}
	if _, err := ParseSector("mining"); err == nil {
		t.Error("ParseSector(mining): no error")
	}
}
