package normalize

import "time"

// parseTime reads the timestamp forms found in log records, without allocating:
//
//   - ISO 8601 / RFC 3339 with 'T' or ' ' between date and time, 0–9 fraction digits and
//     a zone of Z, ±hh:mm, ±hhmm or ±hh ("2023-08-18T08:56:04.315Z",
//     "2017-03-25T16:49:58.856335-0600", NXLog's "2019-05-14 22:53:02"); without a zone
//     the time is taken as UTC, since the record does not say which local time it means;
//   - Unix epoch text, "1588205199.82437" (Zeek's ts), and integers of seconds,
//     milliseconds, microseconds or nanoseconds, told apart by their length.
//
// The result is in UTC.
func parseTime(b []byte) (time.Time, bool) {
	if len(b) >= 10 && b[4] == '-' {
		return parseISO(b)
	}
	return parseEpoch(b)
}

func num(b []byte, i, n int) (int, bool) {
	if i+n > len(b) {
		return 0, false
	}
	v := 0
	for _, c := range b[i : i+n] {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func parseISO(b []byte) (time.Time, bool) {
	year, ok1 := num(b, 0, 4)
	month, ok2 := num(b, 5, 2)
	day, ok3 := num(b, 8, 2)
	if !ok1 || !ok2 || !ok3 || b[7] != '-' || month < 1 || month > 12 || day < 1 || day > 31 {
		return time.Time{}, false
	}
	var hour, minute, sec, nsec int
	i := 10
	if i < len(b) && (b[i] == 'T' || b[i] == ' ' || b[i] == 't') {
		var ok4, ok5, ok6 bool
		hour, ok4 = num(b, 11, 2)
		minute, ok5 = num(b, 14, 2)
		sec, ok6 = num(b, 17, 2)
		if !ok4 || !ok5 || !ok6 || b[13] != ':' || b[16] != ':' || hour > 23 || minute > 59 || sec > 60 {
			return time.Time{}, false
		}
		i = 19
		if i < len(b) && (b[i] == '.' || b[i] == ',') {
			i++
			digits := 0
			for i < len(b) && isDigit(b[i]) {
				if digits < 9 {
					nsec = nsec*10 + int(b[i]-'0')
					digits++
				}
				i++
			}
			if digits == 0 {
				return time.Time{}, false
			}
			for ; digits < 9; digits++ {
				nsec *= 10
			}
		}
	}
	offset := 0
	if i < len(b) {
		switch b[i] {
		case 'Z', 'z':
			i++
		case '+', '-':
			sign := 1
			if b[i] == '-' {
				sign = -1
			}
			oh, ok := num(b, i+1, 2)
			if !ok {
				return time.Time{}, false
			}
			i += 3
			om := 0
			if i < len(b) && b[i] == ':' {
				i++
			}
			if i < len(b) {
				if om, ok = num(b, i, 2); !ok {
					return time.Time{}, false
				}
				i += 2
			}
			if oh > 23 || om > 59 {
				return time.Time{}, false
			}
			offset = sign * (oh*3600 + om*60)
		}
	}
	if i != len(b) {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 31 February and the like
		return time.Time{}, false
	}
	return t.Add(-time.Duration(offset) * time.Second), true
}

func parseEpoch(b []byte) (time.Time, bool) {
	if len(b) == 0 {
		return time.Time{}, false
	}
	var whole int64
	i, digits := 0, 0
	for ; i < len(b) && isDigit(b[i]); i++ {
		if digits >= 19 {
			return time.Time{}, false
		}
		whole = whole*10 + int64(b[i]-'0')
		digits++
	}
	if digits == 0 {
		return time.Time{}, false
	}
	if i == len(b) {
		switch {
		case digits <= 11:
			return time.Unix(whole, 0).UTC(), true
		case digits <= 14:
			return time.UnixMilli(whole).UTC(), true
		case digits <= 17:
			return time.UnixMicro(whole).UTC(), true
		default:
			return time.Unix(0, whole).UTC(), true
		}
	}
	if b[i] != '.' || digits > 11 {
		return time.Time{}, false
	}
	i++
	var nsec int64
	fd := 0
	for ; i < len(b) && isDigit(b[i]); i++ {
		if fd < 9 {
			nsec = nsec*10 + int64(b[i]-'0')
			fd++
		}
	}
	if i != len(b) || fd == 0 {
		return time.Time{}, false
	}
	for ; fd < 9; fd++ {
		nsec *= 10
	}
	return time.Unix(whole, nsec).UTC(), true
}
