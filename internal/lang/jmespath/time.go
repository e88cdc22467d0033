package jmespath

import (
	"fmt"
	"strconv"
	"time"
)

func parseRFC3339(name string, v any) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v.(string))
	if err != nil {
		return time.Time{}, fmt.Errorf(errPrefix+"%w", name, err)
	}
	return t, nil
}

func parseDuration(name string, v any) (time.Duration, error) {
	d, err := time.ParseDuration(v.(string))
	if err != nil {
		return 0, fmt.Errorf(errPrefix+"%w", name, err)
	}
	return d, nil
}

// timePair parses two RFC 3339 arguments.
func timePair(name string, a []any) (time.Time, time.Time, error) {
	t1, err := parseRFC3339(name, a[0])
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	t2, err := parseRFC3339(name, a[1])
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	return t1, t2, nil
}

func timeFunctions(i *Interpreter) []fnSpec {
	return []fnSpec{
		{name: "time_since", args: []kind{kString, kString, kString}, ret: "string",
			note: "calculate the difference between a start and end period of time where the end may either be a static definition or the then-current time",
			handler: func(a []any) (any, error) {
				layout := a[0].(string)
				if layout == "" {
					layout = time.RFC3339
				}
				start, err := time.Parse(layout, a[1].(string))
				if err != nil {
					return nil, fmt.Errorf(errPrefix+"%w", "time_since", err)
				}
				end := i.clock()
				if s := a[2].(string); s != "" {
					if end, err = time.Parse(layout, s); err != nil {
						return nil, fmt.Errorf(errPrefix+"%w", "time_since", err)
					}
				}
				return end.Sub(start).String(), nil
			}},
		{name: "time_now", ret: "string",
			note: "returns current time in RFC 3339 format",
			handler: func([]any) (any, error) {
				return i.clock().Format(time.RFC3339), nil
			}},
		{name: "time_now_utc", ret: "string",
			note: "returns current UTC time in RFC 3339 format",
			handler: func([]any) (any, error) {
				return i.clock().UTC().Format(time.RFC3339), nil
			}},
		{name: "time_to_cron", args: []kind{kString}, ret: "string",
			note: "converts a time (RFC 3339) to a cron expression (string).",
			handler: func(a []any) (any, error) {
				t, err := parseRFC3339("time_to_cron", a[0])
				if err != nil {
					return nil, err
				}
				return strconv.Itoa(t.Minute()) + " " + strconv.Itoa(t.Hour()) + " " +
					strconv.Itoa(t.Day()) + " " + strconv.Itoa(int(t.Month())) + " " +
					strconv.Itoa(int(t.Weekday())), nil
			}},
		{name: "time_add", args: []kind{kString, kString}, ret: "string",
			note: "adds duration (second string) to a time value (first string)",
			handler: func(a []any) (any, error) {
				t, err := parseRFC3339("time_add", a[0])
				if err != nil {
					return nil, err
				}
				d, err := parseDuration("time_add", a[1])
				if err != nil {
					return nil, err
				}
				return t.Add(d).Format(time.RFC3339), nil
			}},
		{name: "time_parse", args: []kind{kString, kString}, ret: "string",
			note: "changes a time value of a given layout to RFC 3339",
			handler: func(a []any) (any, error) {
				layout, value := a[0].(string), a[1].(string)
				if _, err := strconv.ParseInt(layout, 10, 64); err == nil {
					// A numeric layout means "value is a Unix epoch in seconds".
					secs, err := strconv.ParseInt(value, 10, 64)
					if err != nil {
						return nil, fmt.Errorf(errPrefix+"%w", "time_parse", err)
					}
					return time.Unix(secs, 0).UTC().Format(time.RFC3339), nil
				}
				t, err := time.Parse(layout, value)
				if err != nil {
					return nil, fmt.Errorf(errPrefix+"%w", "time_parse", err)
				}
				return t.Format(time.RFC3339), nil
			}},
		{name: "time_utc", args: []kind{kString}, ret: "string",
			note: "calcutes time in UTC from a given time in RFC 3339 format",
			handler: func(a []any) (any, error) {
				t, err := parseRFC3339("time_utc", a[0])
				if err != nil {
					return nil, err
				}
				return t.UTC().Format(time.RFC3339), nil
			}},
		{name: "time_diff", args: []kind{kString, kString}, ret: "string",
			note: "calculate the difference between a start and end date in RFC3339 format",
			handler: func(a []any) (any, error) {
				t1, t2, err := timePair("time_diff", a)
				if err != nil {
					return nil, err
				}
				return t2.Sub(t1).String(), nil
			}},
		{name: "time_before", args: []kind{kString, kString}, ret: "boolean",
			note: "checks if a time is before another time, both in RFC3339 format",
			handler: func(a []any) (any, error) {
				t1, t2, err := timePair("time_before", a)
				if err != nil {
					return nil, err
				}
				return t1.Before(t2), nil
			}},
		{name: "time_after", args: []kind{kString, kString}, ret: "boolean",
			note: "checks if a time is after another time, both in RFC3339 format",
			handler: func(a []any) (any, error) {
				t1, t2, err := timePair("time_after", a)
				if err != nil {
					return nil, err
				}
				return t1.After(t2), nil
			}},
		{name: "time_between", args: []kind{kString, kString, kString}, ret: "boolean",
			note: "checks if a time is between a start and end time, all in RFC3339 format",
			handler: func(a []any) (any, error) {
				t, start, err := timePair("time_between", a)
				if err != nil {
					return nil, err
				}
				end, err := parseRFC3339("time_between", a[2])
				if err != nil {
					return nil, err
				}
				return t.After(start) && t.Before(end), nil
			}},
		{name: "time_truncate", args: []kind{kString, kString}, ret: "string",
			note: "returns the result of rounding time down to a multiple of duration",
			handler: func(a []any) (any, error) {
				t, err := parseRFC3339("time_truncate", a[0])
				if err != nil {
					return nil, err
				}
				d, err := parseDuration("time_truncate", a[1])
				if err != nil {
					return nil, err
				}
				return t.Truncate(d).Format(time.RFC3339), nil
			}},
	}
}
