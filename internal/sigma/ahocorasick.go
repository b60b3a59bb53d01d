package sigma

// acAutomaton is a dense Aho-Corasick DFA over byte classes: one table lookup
// per input byte, outputs merged along suffix links at build time so that
// scanning never follows a failure link.
type acAutomaton struct {
	classes  [256]uint8
	nclass   int32
	trans    []int32 // state*nclass + class → next state
	outStart []int32 // outputs of state s: outs[outStart[s]:outStart[s+1]]
	outs     []int32 // needle ids
	lens     []int32 // needle lengths
}

// buildAC builds the automaton of needles (which must be non-empty).
func buildAC(needles [][]byte) *acAutomaton {
	a := &acAutomaton{lens: make([]int32, len(needles))}
	// Bytes that occur in needles get classes 1..n; all others share class 0.
	var used [256]bool
	total := 1
	for i, n := range needles {
		a.lens[i] = int32(len(n))
		total += len(n)
		for _, c := range n {
			used[c] = true
		}
	}
	a.nclass = 1
	for c := 0; c < 256; c++ {
		if used[c] {
			a.classes[c] = uint8(a.nclass)
			a.nclass++
			if a.nclass == 256 { // every byte used: fall back to identity classes
				for i := range a.classes {
					a.classes[i] = uint8(i)
				}
				break
			}
		}
	}
	if a.nclass == 256 {
		a.nclass = 256
	}
	nc := int(a.nclass)
	// Build the trie directly in the dense table (-1 = no edge yet).
	trans := make([]int32, total*nc)
	for i := range trans {
		trans[i] = -1
	}
	own := make([][]int32, 1, total)
	states := 1
	for id, n := range needles {
		s := 0
		for _, c := range n {
			cl := int(a.classes[c])
			nx := trans[s*nc+cl]
			if nx < 0 {
				nx = int32(states)
				states++
				own = append(own, nil)
				trans[s*nc+cl] = nx
			}
			s = int(nx)
		}
		own[s] = append(own[s], int32(id))
	}
	// Keep only the states used: the first allocation was an upper bound.
	trans = append([]int32(nil), trans[:states*nc]...)
	fail := make([]int32, states)
	outs := make([][]int32, states)
	queue := make([]int32, 0, states)
	for cl := 0; cl < nc; cl++ {
		nx := trans[cl]
		if nx < 0 {
			trans[cl] = 0
			continue
		}
		fail[nx] = 0
		queue = append(queue, nx)
	}
	outs[0] = own[0]
	for qi := 0; qi < len(queue); qi++ {
		s := queue[qi]
		outs[s] = append(append([]int32(nil), own[s]...), outs[fail[s]]...)
		for cl := 0; cl < nc; cl++ {
			nx := trans[int(s)*nc+cl]
			f := trans[int(fail[s])*nc+cl]
			if nx < 0 {
				trans[int(s)*nc+cl] = f
				continue
			}
			fail[nx] = f
			queue = append(queue, nx)
		}
	}
	a.trans = trans
	a.outStart = make([]int32, states+1)
	for s := 0; s < states; s++ {
		a.outStart[s] = int32(len(a.outs))
		a.outs = append(a.outs, outs[s]...)
	}
	a.outStart[states] = int32(len(a.outs))
	return a
}

// numStates returns the number of DFA states.
func (a *acAutomaton) numStates() int { return len(a.outStart) - 1 }
