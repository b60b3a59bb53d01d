package sigma

// acAutomaton is a dense Aho-Corasick DFA over byte classes: one table lookup
// per input byte, outputs merged along suffix links at build time so that
// scanning never follows a failure link.
//
// The scan loop is bound by the latency of the chain state → trans[state+class]
// → state, so the table is laid out to keep that chain to one add and one
// load: states are stored as their row offsets (id*nclass), which saves a
// multiply per byte, and they are numbered so that every state with outputs
// comes last, which turns "does this state report anything?" into one compare
// against outOff instead of two dependent loads of outStart.
type acAutomaton struct {
	classes  [256]uint8
	nclass   int32
	trans    []int32   // row offset of a state + class → row offset of the next state
	outOff   int32     // row offset of the first state with outputs
	starts   [256]bool // bytes that leave the start state
	outStart []int32   // outputs of state outOff+k*nclass: outs[outStart[k]:outStart[k+1]]
	outs     []int32   // needle ids
	lens     []int32   // needle lengths
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
	// Needles are lower-case: give upper-case ASCII the class of its lower
	// case, so that pure-ASCII text can be scanned as it is, without first
	// being lower-cased (the results are the same).
	for c := 'A'; c <= 'Z'; c++ {
		if !used[c] {
			a.classes[c] = a.classes[c+'a'-'A']
		}
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
	// Renumber: states without outputs first (the start state, having none
	// since needles are non-empty, stays 0), then the states with outputs.
	renum := make([]int32, states)
	next := int32(0)
	for pass := 0; pass < 2; pass++ {
		for st := 0; st < states; st++ {
			if (len(outs[st]) > 0) == (pass == 1) {
				renum[st] = next
				next++
			}
		}
		if pass == 0 {
			a.outOff = next * a.nclass
		}
	}
	for c := range a.starts {
		a.starts[c] = trans[a.classes[c]] != 0
	}
	a.trans = make([]int32, len(trans))
	for st := 0; st < states; st++ {
		row := a.trans[int(renum[st])*nc:][:nc]
		for cl, nx := range trans[st*nc:][:nc] {
			row[cl] = renum[nx] * a.nclass
		}
	}
	nout := states - int(a.outOff/a.nclass)
	a.outStart = make([]int32, nout+1)
	for st := 0; st < states; st++ {
		if k := int(renum[st]) - states + nout; k >= 0 {
			a.outStart[k] = int32(len(outs[st])) // counts first, prefix sums below
		}
	}
	total = 0
	for k := 0; k < nout; k++ {
		n := int(a.outStart[k])
		a.outStart[k] = int32(total)
		total += n
	}
	a.outStart[nout] = int32(total)
	a.outs = make([]int32, total)
	for st := 0; st < states; st++ {
		if k := int(renum[st]) - states + nout; k >= 0 {
			copy(a.outs[a.outStart[k]:], outs[st])
		}
	}
	return a
}

// outputs returns the needle ids reported by the state at row offset off,
// which must be at least outOff.
func (a *acAutomaton) outputs(off int32) []int32 {
	k := (off - a.outOff) / a.nclass
	return a.outs[a.outStart[k]:a.outStart[k+1]]
}

// numStates returns the number of DFA states.
func (a *acAutomaton) numStates() int { return len(a.trans) / int(a.nclass) }
