// go-bench: the Go version of the workloads of bench/WORKLOADS.md.
//
//	go-bench [--repeat N] [WORKLOAD...]   (no workload: all it implements)
//	go-bench --list                       (NAME UNIT of each)
//
// Prints "NAME VALUE UNIT" lines as ringo-bench does, VALUE the median of N
// runs. GOMAXPROCS is 1, or 2 for the workloads whose name ends in _t2.
// pingpong_roundtrip_t2 is left out: Go cannot place a goroutine on a
// given P (LockOSThread on both sides costs ~50 us a round trip, a futex
// wake-up each way, and 1,000,000 of them take a minute).
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func nsSince(start time.Time, ops int) float64 {
	return float64(time.Since(start).Nanoseconds()) / float64(ops)
}

// pingpong_roundtrip: two goroutines, two unbuffered channels a->b->a.
func pingpong() float64 {
	const n = 1_000_000
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	ns := nsSince(start, n)
	close(ping)
	return ns
}

// spsc_cap128: 5,000,000 ints through a capacity-128 channel.
func spsc() float64 {
	const n = 5_000_000
	ch := make(chan int, 128)
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			ch <- i
		}
		close(ch)
	}()
	var sum int64
	for v := range ch {
		sum += int64(v)
	}
	ns := nsSince(start, n)
	if sum != int64(n)*(n-1)/2 {
		fmt.Fprintln(os.Stderr, "spsc: wrong sum")
	}
	return ns
}

// mpmc_4x4_cap64: 4 producers x 1,000,000 ints, 4 consumers, capacity 64.
func mpmc() float64 {
	const per, producers, consumers = 1_000_000, 4, 4
	ch := make(chan int, 64)
	var prod, cons sync.WaitGroup
	start := time.Now()
	for p := 0; p < producers; p++ {
		prod.Add(1)
		go func() {
			defer prod.Done()
			for i := 0; i < per; i++ {
				ch <- i
			}
		}()
	}
	for c := 0; c < consumers; c++ {
		cons.Add(1)
		go func() {
			defer cons.Done()
			for range ch {
			}
		}()
	}
	prod.Wait()
	close(ch)
	cons.Wait()
	return nsSince(start, per*producers)
}

// select4_recv: 4 producers on their own capacity-16 channels, one consumer
// selecting over the 4 receives 4,000,000 times.
func select4() float64 {
	const per = 1_000_000
	chans := []chan int{make(chan int, 16), make(chan int, 16), make(chan int, 16), make(chan int, 16)}
	for _, c := range chans {
		go func(c chan int) {
			for i := 0; i < per; i++ {
				c <- i
			}
		}(c)
	}
	c0, c1, c2, c3 := chans[0], chans[1], chans[2], chans[3]
	start := time.Now()
	for i := 0; i < 4*per; i++ {
		select {
		case <-c0:
		case <-c1:
		case <-c2:
		case <-c3:
		}
	}
	return nsSince(start, 4*per)
}

// select_with_after: send one value on a capacity-1 channel, then select
// { receive it, receive a 1h timer }; the timer is created and stopped
// (dropped) per op. time.After would keep every timer pending for an hour.
func selectWithAfter() float64 {
	const n = 1_000_000
	ch := make(chan int, 1)
	start := time.Now()
	for i := 0; i < n; i++ {
		select {
		case ch <- i:
		default:
		}
		t := time.NewTimer(time.Hour)
		select {
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
	return nsSince(start, n)
}

// spawn_join: spawn 1,000,000 empty goroutines, wait for all (WaitGroup
// Add(n) once, Done in each).
func spawnJoin() float64 { return spawnJoinRounds(1_000_000, 1) }

// spawn_join_10k: 100 rounds of 10,000 (the cost without fresh memory).
func spawnJoin10k() float64 { return spawnJoinRounds(10_000, 100) }

func spawnJoinRounds(n, rounds int) float64 {
	start := time.Now()
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		wg.Add(n)
		for i := 0; i < n; i++ {
			go wg.Done()
		}
		wg.Wait()
	}
	return nsSince(start, n*rounds)
}

// wait_group_spawn: the same with Add(1) before each go statement (Go's
// equivalent of wait_group::go).
func waitGroupSpawn() float64 {
	const n = 1_000_000
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
	}
	wg.Wait()
	return nsSince(start, n)
}

// errGroup is the shape of golang.org/x/sync/errgroup (not in the standard
// library): a WaitGroup and the first error.
type errGroup struct {
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

func (g *errGroup) Go(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			g.once.Do(func() { g.err = err })
		}
	}()
}

func (g *errGroup) Wait() error {
	g.wg.Wait()
	return g.err
}

// errgroup_go: 1,000,000 Go of an empty function, then Wait.
func errgroupGo() float64 {
	const n = 1_000_000
	var g errGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		g.Go(func() error { return nil })
	}
	_ = g.Wait()
	return nsSince(start, n)
}

// cancel_tree: 100,000 goroutines each wait on Done() of its own child
// context of one root; cancel the root; wait for all. Spawn included.
func cancelTree() float64 {
	const n = 100_000
	start := time.Now()
	root, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	cancels := make([]context.CancelFunc, 0, n)
	for i := 0; i < n; i++ {
		child, cancelChild := context.WithCancel(root)
		cancels = append(cancels, cancelChild)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-child.Done()
		}()
	}
	runtime.Gosched() // let them start waiting
	cancel()
	wg.Wait()
	ns := nsSince(start, n)
	for _, c := range cancels {
		c()
	}
	return ns
}

// mutex_uncontended: one goroutine, 10,000,000 Lock/Unlock pairs.
func mutexUncontended() float64 {
	const n = 10_000_000
	var mu sync.Mutex
	counter := 0
	start := time.Now()
	for i := 0; i < n; i++ {
		mu.Lock()
		counter++
		mu.Unlock()
	}
	ns := nsSince(start, n)
	if counter != n {
		fmt.Fprintln(os.Stderr, "mutex_uncontended: lost updates")
	}
	return ns
}

// mutex_contended_4: 4 goroutines x 250,000 lock/increment/unlock; every
// 8th time a goroutine yields while holding the lock.
func mutexContended() float64 {
	const per, tasks = 250_000, 4
	var mu sync.Mutex
	counter := 0
	var wg sync.WaitGroup
	start := time.Now()
	for t := 0; t < tasks; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				mu.Lock()
				counter++
				if i%8 == 0 {
					runtime.Gosched()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return nsSince(start, per*tasks)
}

// Bytes the runtime holds for heap objects and goroutine stacks.
func inUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// idle_tasks_1m: 1,000,000 goroutines each blocked on its own unbuffered
// channel receive, then all released; bytes per blocked goroutine.
func idleTasks() float64 {
	const n = 1_000_000
	before := inUse()
	chans := make([]chan int, n)
	var wg sync.WaitGroup
	for i := range chans {
		chans[i] = make(chan int)
		wg.Add(1)
		go func(c chan int) {
			defer wg.Done()
			<-c
		}(chans[i])
	}
	runtime.Gosched()
	during := inUse()
	for _, c := range chans {
		close(c)
	}
	wg.Wait()
	return float64(during-before) / n
}

// pending_timers_1m: 1,000,000 timers pending at once; bytes per timer.
func pendingTimers() float64 {
	const n = 1_000_000
	before := inUse()
	timers := make([]*time.Timer, n)
	for i := range timers {
		timers[i] = time.NewTimer(time.Hour + time.Duration(i)*time.Microsecond)
	}
	during := inUse()
	for _, t := range timers {
		t.Stop()
	}
	return float64(during-before) / n
}

// sleep_many_wall: 100,000 goroutines each sleep 1 + (i % 10) ms; wall / n.
func sleepMany() float64 {
	const n = 100_000
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			time.Sleep(time.Duration(1+i%10) * time.Millisecond)
		}(i)
	}
	wg.Wait()
	return nsSince(start, n)
}

// timer_lateness_p50 / _p99: how late 10,000 sleeps of 1-10 ms wake up.
func lateness(quantile float64) float64 {
	const n = 10_000
	late := make([]float64, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			want := time.Now().Add(time.Duration(1000+(i*7919)%9000) * time.Microsecond)
			time.Sleep(time.Until(want))
			late[i] = float64(time.Since(want).Nanoseconds())
		}(i)
	}
	wg.Wait()
	sort.Float64s(late)
	return late[int(quantile*float64(n-1))]
}

// compute: `rounds` xorshift steps the compiler cannot remove.
var computeSink uint64

func compute(rounds uint64) uint64 {
	x := uint64(88172645463325252)
	for i := uint64(0); i < rounds; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// cpu_fanout: 64 goroutines each computing 1,000,000 rounds; wall / 64.
func cpuFanout() float64 {
	const n = 64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			atomic.AddUint64(&computeSink, compute(1_000_000))
		}()
	}
	wg.Wait()
	return nsSince(start, n)
}

// hol_latency_t2: a goroutine starts 200 short goroutines (10,000 rounds
// each) and then computes 100,000,000 rounds; ns from the first go
// statement until the last short goroutine has finished.
func holLatency() float64 {
	const shorts = 200
	var left int64 = shorts
	var firstGo, lastDone int64
	var busy sync.WaitGroup
	busy.Add(1)
	go func() {
		defer busy.Done()
		atomic.StoreInt64(&firstGo, time.Now().UnixNano())
		for i := 0; i < shorts; i++ {
			go func() {
				atomic.AddUint64(&computeSink, compute(10_000))
				if atomic.AddInt64(&left, -1) == 0 {
					atomic.StoreInt64(&lastDone, time.Now().UnixNano())
				}
			}()
		}
		atomic.AddUint64(&computeSink, compute(100_000_000))
	}()
	busy.Wait()
	for atomic.LoadInt64(&left) != 0 {
		time.Sleep(time.Millisecond)
	}
	return float64(atomic.LoadInt64(&lastDone) - atomic.LoadInt64(&firstGo))
}

type workload struct {
	name, unit string
	body       func() float64
	procs      int
}

var workloads = []workload{
	{"pingpong_roundtrip", "ns/roundtrip", pingpong, 1},
	{"spsc_cap128", "ns/msg", spsc, 1},
	{"mpmc_4x4_cap64", "ns/msg", mpmc, 1},
	{"select4_recv", "ns/select", select4, 1},
	{"spawn_join", "ns/task", spawnJoin, 1},
	{"spawn_join_10k", "ns/task", spawnJoin10k, 1},
	{"idle_tasks_1m", "bytes/task", idleTasks, 1},
	{"select_with_after", "ns/op", selectWithAfter, 1},
	{"cancel_tree", "ns/task", cancelTree, 1},
	{"pending_timers_1m", "bytes/timer", pendingTimers, 1},
	{"wait_group_spawn", "ns/task", waitGroupSpawn, 1},
	{"errgroup_go", "ns/task", errgroupGo, 1},
	{"mutex_uncontended", "ns/lock", mutexUncontended, 1},
	{"mutex_contended_4", "ns/lock", mutexContended, 1},
	{"sleep_many_wall", "ns/task", sleepMany, 1},
	{"timer_lateness_p50", "ns/late", func() float64 { return lateness(0.50) }, 1},
	{"timer_lateness_p99", "ns/late", func() float64 { return lateness(0.99) }, 1},
	{"cpu_fanout", "ns/task", cpuFanout, 1},
	{"pingpong_spawned_t2", "ns/roundtrip", pingpong, 2},
	{"mpmc_4x4_cap64_t2", "ns/msg", mpmc, 2},
	{"select4_recv_t2", "ns/select", select4, 2},
	{"spawn_join_t2", "ns/task", spawnJoin, 2},
	{"cpu_fanout_t2", "ns/task", cpuFanout, 2},
	{"hol_latency_t2", "ns/burst", holLatency, 2},
}

func median(v []float64) float64 {
	sort.Float64s(v)
	m := len(v) / 2
	if len(v)%2 == 1 {
		return v[m]
	}
	return (v[m-1] + v[m]) / 2
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-bench: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	repeat := 1
	var wanted []string
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--list":
			for _, w := range workloads {
				fmt.Println(w.name, w.unit)
			}
			return
		case arg == "--repeat" || strings.HasPrefix(arg, "--repeat="):
			value := strings.TrimPrefix(arg, "--repeat=")
			if arg == "--repeat" {
				if i+1 >= len(args) {
					fail("--repeat needs a count")
				}
				i++
				value = args[i]
			}
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 || n > 1000 {
				fail("--repeat wants a count from 1 to 1000, not %q", value)
			}
			repeat = n
		case strings.HasPrefix(arg, "-"):
			fail("unknown option %q (usage: go-bench [--repeat N] [WORKLOAD...] | --list)", arg)
		default:
			wanted = append(wanted, arg)
		}
	}
	chosen := workloads
	if len(wanted) > 0 {
		chosen = nil
		for _, name := range wanted {
			found := false
			for _, w := range workloads {
				if w.name == name {
					chosen = append(chosen, w)
					found = true
				}
			}
			if !found {
				fail("unknown workload %q (--list lists them)", name)
			}
		}
	}
	for _, w := range chosen {
		runtime.GOMAXPROCS(w.procs)
		values := make([]float64, 0, repeat)
		for r := 0; r < repeat; r++ {
			runtime.GC()
			values = append(values, w.body())
		}
		fmt.Printf("%s %.1f %s\n", w.name, median(values), w.unit)
	}
}
