// Command compare runs the chaincode benchmark: our shim, fabric-chaincode-go,
// the generated-code reference (raw) and the lean protocol bound, each as
// its own server process over mTLS, driven alternately by the same load
// generator; it prints a Markdown table of medians, ratios and the targets.
//
//	cd bench && go run ./cmd/compare            # full run (about 12 min on 2 cores)
//	cd bench && go run ./cmd/compare -quick     # CI-sized (about 30 s)
//	cd bench && go run ./cmd/compare -impls ours,lean,leansync
//	                                            # the synchronous-API control
//
// leansync (not run by default) is lean with the structure a synchronous
// stub API needs; when it runs, the ratio table adds ours ÷ leansync and
// leansync's CPU ÷ lean.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ccserver/ccserver/bench/internal/compare"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func run() error {
	quick := flag.Bool("quick", false, "CI-sized run: 1 round of 1 s per cell")
	serverBin := flag.String("server", "", "path of the bench server binary (default: go build ./cmd/server)")
	impls := flag.String("impls", "ours,anchor,raw,lean", "implementations to compare: ours, anchor, raw, lean, leansync (the targets need ours, anchor and lean; ours,lean,leansync runs the synchronous-API control)")
	funcs := flag.String("funcs", "noop,getput,range", "workloads")
	conc := flag.String("concurrency", "1,64", "concurrency levels")
	conns := flag.String("connections", "1,4", "connection counts")
	rounds := flag.Int("rounds", 5, "rounds (medians are taken over them)")
	duration := flag.Duration("duration", 4*time.Second, "measured time per run")
	warmup := flag.Duration("warmup", time.Second, "unmeasured load before each run")
	dir := flag.String("dir", "", "directory for the PKI, profiles and results.json (default: a temporary directory)")
	profile := flag.Bool("profile", false, "write CPU and allocation profiles of every server into -dir")
	memRate := flag.Int("memprofilerate", 0, "with -profile: the servers' runtime.MemProfileRate (1: every allocation, exact counts; slows the servers)")
	serverCPUs := flag.String("server-cpus", "", "run the servers under taskset -c CPUS (e.g. 1; run compare itself under taskset -c 0)")
	jsonOut := flag.String("json", "", "also write every run as JSON to this file")
	costStreams := flag.Int("cost", 0, "instead of the load runs, measure the cost per peer of each implementation with this many idle streams (and start to READY)")
	costRuns := flag.Int("cost-runs", 7, "process starts for the start-to-READY median (with -cost)")
	flag.Parse()
	if *quick {
		*rounds, *duration, *warmup = 1, time.Second, 300*time.Millisecond
	}
	cfg := compare.Config{Impls: split(*impls), Funcs: split(*funcs), Rounds: *rounds, Duration: *duration, Warmup: *warmup, Profile: *profile, MemProfileRate: *memRate, ServerCPUs: *serverCPUs, Log: os.Stderr}
	var err error
	if cfg.Concurrency, err = ints(*conc); err != nil {
		return fmt.Errorf("-concurrency: %w", err)
	}
	if cfg.Connections, err = ints(*conns); err != nil {
		return fmt.Errorf("-connections: %w", err)
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "ccbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
		if *profile {
			return errors.New("-profile needs -dir to keep the profiles")
		}
	} else if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	cfg.Dir = *dir
	if cfg.ServerBin = *serverBin; cfg.ServerBin == "" {
		cfg.ServerBin = filepath.Join(*dir, "server")
		build := exec.Command("go", "build", "-o", cfg.ServerBin, "./cmd/server")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build the server (run from bench/ or pass -server): %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	if *costStreams > 0 {
		costs, err := compare.MeasureCosts(ctx, compare.CostConfig{ServerBin: cfg.ServerBin, Dir: cfg.Dir, ServerCPUs: cfg.ServerCPUs,
			Impls: cfg.Impls, Streams: *costStreams, Runs: *costRuns, Log: os.Stderr})
		if err != nil {
			return err
		}
		compare.WriteCostMarkdown(os.Stdout, costs)
		return nil
	}
	rep, err := compare.Compare(ctx, cfg)
	if err != nil {
		return err
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	rep.WriteMarkdown(os.Stdout)
	fmt.Fprintf(os.Stderr, "compare: %d runs in %s\n", len(rep.Runs), time.Since(start).Round(time.Second))
	return nil
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func ints(s string) ([]int, error) {
	var out []int
	for _, p := range split(s) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", p)
		}
		out = append(out, n)
	}
	return out, nil
}
