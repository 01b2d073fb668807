package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEListsEverySetting: the README's configuration table names
// exactly the settings Load knows, each with its flag and its default.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "\n## Configuration\n")
	section, _, _ = strings.Cut(section, "\n## ")
	code := regexp.MustCompile("`([^`]*)`")
	type row struct{ flag, def string }
	documented := map[string]row{}
	for line := range strings.Lines(section) {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), " | ")
		if len(cells) != 4 || !strings.HasPrefix(strings.TrimSpace(cells[0]), "`") {
			continue
		}
		envs, flags := code.FindAllStringSubmatch(cells[0], -1), code.FindAllStringSubmatch(cells[1], -1)
		for i, env := range envs {
			if strings.HasSuffix(env[1], "*") {
				continue // OTEL_*: the OpenTelemetry SDK's, not Load's
			}
			r := row{flag: "—", def: strings.TrimSpace(cells[2])}
			if i < len(flags) {
				r.flag = flags[i][1]
			}
			documented[env[1]] = r
		}
	}

	defaults := source{Config: Default()}
	for _, s := range settings {
		r, ok := documented[s.env]
		if !ok {
			t.Errorf("%s is not in the README's configuration table", s.env)
			continue
		}
		delete(documented, s.env)
		flag := "—"
		if f := s.flagName(); f != "" {
			flag = "--" + f
		}
		if r.flag != flag {
			t.Errorf("%s: README's flag %q, Load's %q", s.env, r.flag, flag)
		}
		want := s.field(&defaults).String()
		switch s.env {
		case "STYTCH_BASE_URL": // derived from the project ID
			want = testBaseURL
		case "STYTCH_SECRET":
			want = ""
		}
		if want == "" {
			if !strings.HasPrefix(r.def, "—") {
				t.Errorf("%s: README's default %q, want none (—)", s.env, r.def)
			}
		} else if m := code.FindStringSubmatch(r.def); m == nil || m[1] != want {
			t.Errorf("%s: README's default %q, Load's %q", s.env, r.def, want)
		}
	}
	for env := range documented {
		t.Errorf("the README documents %s, which Load does not know", env)
	}
}
