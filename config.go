package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"kassa/region"
)

// flagKeys are the flags every command shares, each bound to a config key.
var flagKeys = map[string]string{
	"listen":     "listen",
	"data-dir":   "data_dir",
	"region":     "region",
	"public-url": "public_url",
	"site-url":   "site_url",
	"backup-url": "backup.url",
	"mode":       "mode",
	"log-level":  "log.level",
}

// addConfigFlags adds --config and the given config-bound flags to fs.
func addConfigFlags(fs *pflag.FlagSet, names ...string) {
	fs.String("config", "", "config file (default ./config.yaml if present, else the built-in default)")
	help := map[string]string{
		"listen":     "address to listen on (listen)",
		"data-dir":   "data directory (data_dir)",
		"region":     "region id (region)",
		"public-url": "public URL of this region, which peers use (public_url)",
		"site-url":   "the deployment's address for shoppers and merchants, in front of every region (site_url; default public_url)",
		"backup-url": "Litestream replica URL (backup.url)",
		"mode":       "development or production (mode)",
		"log-level":  "debug, info, warn or error (log.level)",
	}
	for _, n := range names {
		fs.String(n, "", help[n])
	}
}

// loadConfig builds the region config: the embedded defaults, then the
// config file, then KASSA_* environment variables, then flags. Any unknown
// key, unparsable value or invalid setting is a *region.ConfigError naming
// the key.
func (e *cmdEnv) loadConfig(fs *pflag.FlagSet) (region.Config, error) {
	var cfg region.Config
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(defaultConfig)); err != nil {
		return cfg, fmt.Errorf("embedded config: %w", err)
	}

	path, _ := fs.GetString("config")
	explicit := path != ""
	if !explicit {
		if _, err := os.Stat("config.yaml"); err == nil {
			path = "config.yaml"
		}
	}
	userSet := map[string]bool{}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, &region.ConfigError{Key: "config", Msg: err.Error()}
		}
		file := viper.New()
		file.SetConfigType("yaml")
		if err := file.ReadConfig(bytes.NewReader(b)); err != nil {
			return cfg, &region.ConfigError{Key: "config", Msg: fmt.Sprintf("%s is not valid YAML: %v", path, err)}
		}
		for _, k := range file.AllKeys() {
			top := strings.SplitN(k, ".", 2)[0]
			if configKeys[k] == nil && configKeys[top] == nil && !mapKeys[mapKeyOf(k)] {
				return cfg, &region.ConfigError{Key: k, Msg: fmt.Sprintf("unknown key in %s", path)}
			}
			userSet[k], userSet[top] = true, true
		}
		// viper's merge skips, without a word, a value that is not a map
		// where the defaults have one.
		for _, k := range slices.Sorted(maps.Keys(mapKeys)) {
			if val := file.Get(k); val != nil {
				if _, ok := val.(map[string]any); !ok {
					return cfg, &region.ConfigError{Key: k, Msg: fmt.Sprintf("must be a map of names to numbers in %s, got %v", path, val)}
				}
			}
		}
		if err := v.MergeConfigMap(file.AllSettings()); err != nil {
			return cfg, &region.ConfigError{Key: "config", Msg: err.Error()}
		}
	}

	envKeys := map[string]string{}
	for k := range configKeys {
		envKeys["KASSA_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = k
	}
	for _, kv := range e.environ {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "KASSA_") {
			continue
		}
		k, ok := envKeys[name]
		if !ok {
			return cfg, &region.ConfigError{Key: name, Msg: "unknown environment variable (KASSA_<KEY>, dots as underscores)"}
		}
		if mapKeys[k] {
			var m map[string]int64
			if err := json.Unmarshal([]byte(val), &m); err != nil {
				return cfg, &region.ConfigError{Key: k, Msg: fmt.Sprintf("%s must be a JSON object of numbers, like {\"SEK\": 2000000}: %v", name, err)}
			}
			v.Set(k, m)
		} else if listKeys[k] {
			var list []map[string]any
			if err := json.Unmarshal([]byte(val), &list); err != nil {
				return cfg, &region.ConfigError{Key: k, Msg: fmt.Sprintf("%s must be a JSON list of objects: %v", name, err)}
			}
			v.Set(k, list)
		} else {
			v.Set(k, val)
		}
		userSet[k], userSet[strings.SplitN(k, ".", 2)[0]] = true, true
	}
	fs.Visit(func(f *pflag.Flag) {
		if k, ok := flagKeys[f.Name]; ok {
			v.Set(k, f.Value.String())
			userSet[k] = true
		}
	})

	// In production the demo merchant and staff of the defaults are not
	// inherited: only what the operator configured counts.
	if v.GetString("mode") == "production" {
		for _, k := range []string{"merchants", "staff"} {
			if !userSet[k] {
				v.Set(k, []any{})
			}
		}
	}

	err := v.Unmarshal(&cfg, viper.DecoderConfigOption(func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
	}))
	if err != nil {
		return cfg, decodeError(err)
	}
	if err := cfg.Normalize(); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// configKeys are every key of region.Config with its type: the sections
// each package owns, found by reflection, so a setting added to a
// package's settings struct is known here without a change.
var configKeys = keyTypes(reflect.TypeOf(region.Config{}), "")

// mapKeys are the keys whose values are maps with keys of the operator's
// choosing (currencies, categories); listKeys those whose values are lists
// of objects (set from the environment as JSON).
var (
	mapKeys  = keysWhere(func(t reflect.Type) bool { return t.Kind() == reflect.Map })
	listKeys = keysWhere(func(t reflect.Type) bool { return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct })
)

// keysWhere lists the config keys whose type satisfies f.
func keysWhere(f func(reflect.Type) bool) map[string]bool {
	keys := map[string]bool{}
	for k, t := range configKeys {
		if f(t) {
			keys[k] = true
		}
	}
	return keys
}

// keyTypes lists every config key of the struct type t as mapstructure
// decodes it: nested structs as dotted keys, squashed fields in their
// parent's section, fields tagged "-" or untagged left out.
func keyTypes(t reflect.Type, prefix string) map[string]reflect.Type {
	keys := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		isStruct := f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0))
		switch {
		case isStruct && opts == "squash":
			maps.Copy(keys, keyTypes(f.Type, prefix))
		case name == "" || name == "-":
		case isStruct:
			maps.Copy(keys, keyTypes(f.Type, prefix+name+"."))
		default:
			keys[prefix+name] = f.Type
		}
	}
	return keys
}

// mapKeyOf returns the map key k is an entry of (k without its last part).
func mapKeyOf(k string) string {
	if i := strings.LastIndex(k, "."); i > 0 {
		return k[:i]
	}
	return ""
}

var quotedKey = regexp.MustCompile(`'([^']+)'`)

// decodeError turns mapstructure's report into a ConfigError naming the key.
func decodeError(err error) error {
	msg := err.Error()
	lines := strings.Split(msg, "\n")
	sort.SliceStable(lines, func(i, j int) bool { return strings.Contains(lines[i], "'") && !strings.Contains(lines[j], "'") })
	for _, l := range lines {
		if m := quotedKey.FindStringSubmatch(l); m != nil {
			return &region.ConfigError{Key: m[1], Msg: strings.TrimSpace(strings.TrimPrefix(l, "*"))}
		}
	}
	return &region.ConfigError{Key: "config", Msg: msg}
}
