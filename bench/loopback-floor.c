// The machine's floor for live fan-out: one small message written to each of N loopback TCP sockets, in C with
// nothing else in the way (no framing, no JavaScript, no event loop), and read back by receiver processes on the
// same machine, as bench:fanout's load generator does. Prints, per round and as medians, how long the writes took
// and how long after the first write each receiver got its copy (p50/p99/max). What this costs here, no server
// can do faster on this machine. Built and run by bench/loopback-floor.ts (`npm run bench:loopback-floor`).
//
//   loopback-floor <sockets> <sender-threads> <receiver-processes> <rounds> <bytes>
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Shared with the receivers: each round's first-write instant, and every socket's receipt instant. */
struct shared {
  volatile double round_start;
  volatile int round;
  volatile double receipt[];
};

static int n_sockets, n_threads, n_receivers, n_rounds, n_bytes;
static int *conns;
static char *payload;
static double *thread_ms;

struct job { int from, to, idx; };

static void *send_part(void *arg) {
  struct job *j = arg;
  double t = now_ms();
  for (int i = j->from; i < j->to; i++) {
    ssize_t w = send(conns[i], payload, n_bytes, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w != n_bytes) { fprintf(stderr, "short send on %d: %zd (%s)\n", i, w, strerror(errno)); exit(1); }
  }
  thread_ms[j->idx] = now_ms() - t;
  return NULL;
}

static void receiver(struct shared *sh, int port, int from, int to) {
  int ep = epoll_create1(0);
  int *fds = malloc(sizeof(int) * (to - from));
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  for (int i = from; i < to; i++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) die("socket");
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fds[i - from] = s;
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
  }
  char buf[65536];
  struct epoll_event evs[1024];
  long expected = (long)(to - from) * n_rounds, got = 0;
  while (got < expected) {
    int n = epoll_wait(ep, evs, 1024, 10000);
    if (n <= 0) { fprintf(stderr, "receiver: %ld of %ld messages\n", got, expected); exit(1); }
    double t = now_ms();
    for (int k = 0; k < n; k++) {
      int i = (int)evs[k].data.u32;
      ssize_t r = recv(fds[i - from], buf, sizeof buf, 0);
      if (r <= 0) die("recv");
      got += r / n_bytes;
      sh->receipt[i] = t;
    }
  }
  exit(0);
}

int main(int argc, char **argv) {
  if (argc != 6) { fprintf(stderr, "usage: %s sockets sender-threads receiver-processes rounds bytes\n", argv[0]); return 2; }
  n_sockets = atoi(argv[1]); n_threads = atoi(argv[2]); n_receivers = atoi(argv[3]); n_rounds = atoi(argv[4]); n_bytes = atoi(argv[5]);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  struct shared *sh = mmap(NULL, sizeof *sh + sizeof(double) * n_sockets, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0) die("bind");
  if (listen(ls, 4096) != 0) die("listen");
  socklen_t al = sizeof a;
  getsockname(ls, (struct sockaddr *)&a, &al);
  int port = ntohs(a.sin_port);

  pid_t *kids = malloc(sizeof(pid_t) * n_receivers);
  for (int r = 0; r < n_receivers; r++) {
    int from = (int)((long)n_sockets * r / n_receivers), to = (int)((long)n_sockets * (r + 1) / n_receivers);
    kids[r] = fork();
    if (kids[r] == 0) { close(ls); receiver(sh, port, from, to); }
  }
  // Accepted sockets arrive in any order, and nothing here needs to know which receiver holds which: every socket
  // gets one copy per round, and each receiver stamps its copies under its own socket indexes in shared memory.
  conns = malloc(sizeof(int) * n_sockets);
  for (int i = 0; i < n_sockets; i++) {
    conns[i] = accept(ls, NULL, NULL);
    if (conns[i] < 0) die("accept");
    int one = 1;
    setsockopt(conns[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  payload = malloc(n_bytes);
  memset(payload, 'x', n_bytes);
  thread_ms = calloc(n_threads, sizeof(double));

  double *lat = malloc(sizeof(double) * n_sockets);
  double *p50s = malloc(sizeof(double) * n_rounds), *p99s = malloc(sizeof(double) * n_rounds), *sends = malloc(sizeof(double) * n_rounds);
  printf("%d sockets, %d sender thread(s), %d receiver process(es), %d bytes a message\n", n_sockets, n_threads, n_receivers, n_bytes);
  for (int round = 0; round < n_rounds; round++) {
    usleep(1000 * 1000);
    for (int i = 0; i < n_sockets; i++) sh->receipt[i] = 0;
    pthread_t th[64];
    struct job jobs[64];
    double start = now_ms();
    for (int t = 0; t < n_threads; t++) {
      jobs[t] = (struct job){ (int)((long)n_sockets * t / n_threads), (int)((long)n_sockets * (t + 1) / n_threads), t };
      pthread_create(&th[t], NULL, send_part, &jobs[t]);
    }
    for (int t = 0; t < n_threads; t++) pthread_join(th[t], NULL);
    double sent = now_ms() - start;
    // Wait until every receipt is in (or 5 s).
    for (double w = now_ms(); now_ms() - w < 5000;) {
      int all = 1;
      for (int i = 0; i < n_sockets && all; i++) all = sh->receipt[i] >= start;
      if (all) break;
      usleep(2000);
    }
    int n = 0;
    for (int i = 0; i < n_sockets; i++) if (sh->receipt[i] >= start) lat[n++] = sh->receipt[i] - start;
    qsort(lat, n, sizeof(double), cmp_double);
    p50s[round] = lat[n / 2];
    p99s[round] = lat[(int)(n * 0.99)];
    sends[round] = sent;
    printf("round %d: writes %.1f ms (threads:", round + 1, sent);
    for (int t = 0; t < n_threads; t++) printf(" %.1f", thread_ms[t]);
    printf("), received %d: p50 %.1f p99 %.1f max %.1f ms\n", n, lat[n / 2], lat[(int)(n * 0.99)], lat[n - 1]);
    fflush(stdout);
  }
  qsort(p50s, n_rounds, sizeof(double), cmp_double);
  qsort(p99s, n_rounds, sizeof(double), cmp_double);
  qsort(sends, n_rounds, sizeof(double), cmp_double);
  printf("median: {\"sockets\":%d,\"senderThreads\":%d,\"writesMs\":%.1f,\"p50Ms\":%.1f,\"p99Ms\":%.1f}\n", n_sockets, n_threads, sends[n_rounds / 2], p50s[n_rounds / 2], p99s[n_rounds / 2]);
  for (int i = 0; i < n_sockets; i++) close(conns[i]);
  for (int r = 0; r < n_receivers; r++) waitpid(kids[r], NULL, 0);
  return 0;
}
