#!/usr/bin/env python3
"""Splits the samples of CPU profiles into categories, one each: the leaf-most
frame that belongs to a category decides (GC work inside mallocgc is GC, a
gRPC send from the engine is gRPC). Reads `go tool pprof -traces`.

    python3 bench/cpucat.py /tmp/pg-getput/ours.cpu.pprof /tmp/pg-getput/lean.cpu.pprof

Multiply a share by the run's server CPU per transaction for µs/tx
(docs/performance.md, "Which cost stands between ours and lean")."""
import os, re, subprocess, sys
CATS = [
 ("GC", r"^runtime\.(gcBgMarkWorker|gcAssistAlloc|gcAssistAlloc1|bgsweep|bgscavenge|gcStart|gcDrain|gcDrainN|markroot|scanobject|wbBufFlush|gcMarkDone|gcMarkTermination|deductSweepCredit|sweepone)$"),
 ("scheduler", r"^runtime\.(mcall|park_m|schedule|findRunnable|gopark|goready|ready|chansend1?|chanrecv[12]?|selectgo|selectnbsend|selectnbrecv|netpoll|stopm|startm|wakep|notewakeup|notesleep|futexsleep|futexwakeup|runqgrab|stealWork)$"),
 ("syscall", r"^(internal/runtime/syscall/linux\.Syscall6|syscall\.Syscall|syscall\.RawSyscall6?)$"),
 ("malloc", r"^runtime\.(mallocgc|newobject|makeslice|makechan|growslice|memclrNoHeapPointers|rawstring|rawbyteslice|slicebytetostring)$"),
 ("locks", r"^(sync|internal/sync)\.\(\*Mutex\)\.|^runtime\.(lock2|unlock2)$"),
 ("tls+crypto", r"^crypto/"),
 ("grpc+http2", r"^(google\.golang\.org/grpc|golang\.org/x/net/http2)"),
 ("engine", r"^github\.com/ccserver/ccserver/shim/internal/engine\."),
 ("stub+shim", r"^github\.com/ccserver/ccserver/shim\."),
 ("lean", r"^github\.com/ccserver/ccserver/bench/internal/lean\."),
 ("chaincode", r"benchcc\.|^main\."),
]
def parse(path):
    out = subprocess.run(["go","tool","pprof","-traces",path],capture_output=True,text=True,cwd=os.path.dirname(os.path.abspath(__file__))).stdout
    blocks = out.split("-----------+-------------------------------------------------------")
    for b in blocks[1:]:
        lines=[l for l in b.strip("\n").split("\n") if l.strip()]
        if not lines: continue
        m=re.match(r"\s*([0-9.]+)(ms|s|us|µs)\s+(.*)",lines[0])
        if not m: continue
        v=float(m.group(1))*{"ms":1,"s":1000,"us":0.001,"µs":0.001}[m.group(2)]
        frames=[m.group(3).strip()]+[l.strip() for l in lines[1:]]
        frames=[f.split(" ")[0] for f in frames]
        yield v,frames
COMPILED=[(n,re.compile(rx)) for n,rx in CATS]
def classify(frames):
    # leaf-most frame that belongs to a category decides
    for f in frames:
        for name,r in COMPILED:
            if r.search(f):
                return name
    return "other"
for path in sys.argv[1:]:
    tot={}; total=0
    for v,fr in parse(path):
        c=classify(fr); tot[c]=tot.get(c,0)+v; total+=v
    print(path, "total %.0fms"%total)
    for name,_ in CATS+[("other","")]:
        if name in tot: print("  %-12s %6.1f%%"%(name,100*tot[name]/total))
