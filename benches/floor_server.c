/* The getState floor: a trivial epoll server on a unix socket that answers every HTTP request
 * with Python's getState response, parsing nothing but the header end and Content-Length.
 * No XML, no dispatch, no state: what the machine and the Python clients allow at best.
 * Usage: floor_server SOCKET_PATH (runs until killed). Built by benches/bench.py with cc. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#define BODY "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n" \
    "<member>\n<name>statecode</name>\n<value><int>1</int></value>\n</member>\n<member>\n"     \
    "<name>statename</name>\n<value><string>RUNNING</string></value>\n</member>\n</struct>"   \
    "</value>\n</param>\n</params>\n</methodResponse>\n"

enum { MAX_CONN = 1024, BUF = 65536 };

struct conn { char buf[BUF]; size_t len; };
static struct conn *conns[MAX_CONN];

/* Length of the first complete request in c->buf, or 0 if it is not complete yet. */
static size_t request_length(const struct conn *c) {
    const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t head = (size_t)(end - c->buf) + 4, body = 0;
    for (const char *line = c->buf; line && line < end;) {
        if (!strncasecmp(line, "Content-Length:", 15)) body = strtoul(line + 15, NULL, 10);
        line = memchr(line, '\n', (size_t)(end - line));
        if (line) line++;
    }
    return c->len >= head + body ? head + body : 0;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s SOCKET_PATH\n", argv[0]); return 2; }
    char response[1024];
    int rlen = snprintf(response, sizeof response, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                        "Content-Length: %zu\r\n\r\n%s", strlen(BODY), BODY);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
    unlink(argv[1]);
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 128)) {
        perror("listen"); return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = listener }, events[64];
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    for (;;) {
        int n = epoll_wait(ep, events, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int c = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
                if (c < 0 || c >= MAX_CONN) { if (c >= 0) close(c); continue; }
                conns[c] = calloc(1, sizeof(struct conn));
                struct epoll_event ce = { .events = EPOLLIN, .data.fd = c };
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                continue;
            }
            struct conn *c = conns[fd];
            ssize_t r = recv(fd, c->buf + c->len, BUF - c->len, 0);
            if (r <= 0 || (c->len += (size_t)r) == BUF) {
                close(fd); free(c); conns[fd] = NULL; continue;
            }
            size_t used;
            while ((used = request_length(c)) > 0) {
                if (send(fd, response, (size_t)rlen, MSG_NOSIGNAL) != rlen) break;
                memmove(c->buf, c->buf + used, c->len - used);
                c->len -= used;
            }
        }
    }
}
