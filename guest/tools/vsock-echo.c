/*
 * vsock-echo: a tiny AF_VSOCK test tool for Flotilla guests (built static into the initramfs).
 *
 *   vsock-echo server PORT            echo every connection on PORT (one process per connection)
 *   vsock-echo client CID PORT BYTES  send BYTES of a pattern, read the echo back, compare;
 *                                     prints "OK <bytes> <fnv1a-checksum>" and exits 0, or exits 1
 *
 * The client writes and reads concurrently (poll) so that an echo larger than the socket
 * buffers cannot deadlock, and half-closes (SHUT_WR) once everything was sent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

/* <linux/vm_sockets.h> is not on musl's include path; the layout is fixed ABI. */
struct vsock_address {
    unsigned short family;
    unsigned short reserved;
    unsigned int port;
    unsigned int cid;
    unsigned char zero[4];
};

#define VMADDR_CID_ANY 0xffffffffu

static unsigned char pattern_byte(uint64_t i) {
    return (unsigned char) (i * 31 + 7);
}

static int die(const char *what) {
    fprintf(stderr, "vsock-echo: %s: %s\n", what, strerror(errno));
    return 1;
}

static unsigned long parse_number(const char *text, const char *name) {
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text) {
        fprintf(stderr, "vsock-echo: %s \"%s\" is not a number\n", name, text);
        exit(2);
    }
    return (unsigned long) value;
}

static void echo_connection(int fd) {
    char buffer[65536];
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buffer + off, (size_t) (n - off));
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                close(fd);
                return;
            }
            off += w;
        }
    }
    shutdown(fd, SHUT_WR);
    close(fd);
}

static int server(unsigned int port) {
    int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (fd < 0) {
        return die("socket(AF_VSOCK)");
    }
    struct vsock_address address = {.family = AF_VSOCK, .port = port, .cid = VMADDR_CID_ANY};
    if (bind(fd, (struct sockaddr *) &address, sizeof address) < 0) {
        return die("bind");
    }
    if (listen(fd, 64) < 0) {
        return die("listen");
    }
    signal(SIGCHLD, SIG_IGN); /* children are reaped automatically */
    printf("listening on vsock port %u\n", port);
    fflush(stdout);
    for (;;) {
        int client = accept(fd, NULL, NULL);
        if (client < 0) {
            if (errno == EINTR) {
                continue;
            }
            return die("accept");
        }
        pid_t child = fork();
        if (child == 0) {
            close(fd);
            echo_connection(client);
            _exit(0);
        }
        close(client);
        if (child < 0) {
            fprintf(stderr, "vsock-echo: fork: %s\n", strerror(errno));
        }
    }
}

static int client(unsigned int cid, unsigned int port, uint64_t total) {
    int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (fd < 0) {
        return die("socket(AF_VSOCK)");
    }
    struct vsock_address address = {.family = AF_VSOCK, .port = port, .cid = cid};
    if (connect(fd, (struct sockaddr *) &address, sizeof address) < 0) {
        return die("connect");
    }
    unsigned char out[65536], in[65536];
    uint64_t sent = 0, received = 0;
    uint32_t checksum = 2166136261u; /* FNV-1a over the echoed bytes */
    int write_open = 1;
    if (total == 0) {
        shutdown(fd, SHUT_WR);
        write_open = 0;
    }
    while (received < total) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (write_open ? POLLOUT : 0)};
        if (poll(&p, 1, 30000) <= 0) {
            fprintf(stderr, "vsock-echo: no progress for 30 s (sent %llu, received %llu)\n",
                    (unsigned long long) sent, (unsigned long long) received);
            return 1;
        }
        if (write_open && (p.revents & POLLOUT)) {
            size_t chunk = total - sent < sizeof out ? (size_t) (total - sent) : sizeof out;
            for (size_t i = 0; i < chunk; i++) {
                out[i] = pattern_byte(sent + i);
            }
            ssize_t w = write(fd, out, chunk);
            if (w < 0 && errno != EINTR && errno != EAGAIN) {
                return die("write");
            }
            if (w > 0) {
                sent += (uint64_t) w;
            }
            if (sent == total) {
                shutdown(fd, SHUT_WR);
                write_open = 0;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(fd, in, sizeof in);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                return die("read");
            }
            if (n == 0) {
                fprintf(stderr, "vsock-echo: echo ended after %llu of %llu bytes\n",
                        (unsigned long long) received, (unsigned long long) total);
                return 1;
            }
            for (ssize_t i = 0; i < n; i++) {
                if (in[i] != pattern_byte(received + (uint64_t) i)) {
                    fprintf(stderr, "vsock-echo: mismatch at byte %llu\n", (unsigned long long) (received + (uint64_t) i));
                    return 1;
                }
                checksum = (checksum ^ in[i]) * 16777619u;
            }
            received += (uint64_t) n;
        }
    }
    close(fd);
    printf("OK %llu %08x\n", (unsigned long long) total, checksum);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "server") == 0) {
        return server((unsigned int) parse_number(argv[2], "PORT"));
    }
    if (argc == 5 && strcmp(argv[1], "client") == 0) {
        return client((unsigned int) parse_number(argv[2], "CID"), (unsigned int) parse_number(argv[3], "PORT"),
                      (uint64_t) parse_number(argv[4], "BYTES"));
    }
    fprintf(stderr, "usage: vsock-echo server PORT\n       vsock-echo client CID PORT BYTES\n");
    return 2;
}
