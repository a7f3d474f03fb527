/* SPDX-License-Identifier: BSD-2-Clause */
/* Prometheus exporter, the HTTP side: the --listen address and one thread answering scrapes. */
#include "views/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------
 * Listen address
 */

int serve_addr__parse(const char *s, struct serve_addr *out)
{
	char host[64];
	const char *port_s = NULL, *end;
	long port = SERVE_DEFAULT_PORT;
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
	bool v6 = false;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			return -EINVAL;
		n = (size_t)(end - s - 1);
		v6 = true;
		if (end[1] == ':')
			port_s = end + 2;
		else if (end[1])
			return -EINVAL;
		s++;
	} else {
		end = strrchr(s, ':');
		if (end && strchr(s, ':') != end)
			return -EINVAL; /* a bare IPv6 address: its port would be ambiguous, want [..] */
		n = end ? (size_t)(end - s) : strlen(s);
		if (end)
			port_s = end + 1;
	}
	/* An empty host (":9464") would mean every interface: say so explicitly instead. */
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (port_s && parse_long(port_s, 0, 65535, &port))
		return -EINVAL;

	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
		out->len = sizeof(*sin6);
		out->loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ||
				(IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && sin6->sin6_addr.s6_addr[12] == 127);
		copy_str(out->host, sizeof(out->host), host);
		snprintf(out->text, sizeof(out->text), "[%s]:%ld", host, port);
		return 0;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (!strcmp(host, "localhost"))
		copy_str(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -EINVAL;
	out->len = sizeof(*sin);
	out->loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	copy_str(out->host, sizeof(out->host), host);
	snprintf(out->text, sizeof(out->text), "%s:%ld", host, port);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Server: one thread, poll() over the listening socket, a wake-up eventfd and the clients.
 * The collector never waits for a client: it renders into its own buffer and swaps it in
 * under `lock`; each answer is a private copy made under the same lock.
 */

enum client_state { CLIENT_FREE = 0, CLIENT_READING, CLIENT_WRITING };

struct client {
	int fd;
	enum client_state state;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	uint64_t accepted_ns;
	char req[SERVE_MAX_REQUEST + 1];
	size_t req_len;
	char *resp;
	size_t resp_len, resp_off;
};

struct serve_server {
	int listen_fd, wake_fd, port;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	struct strbuf front; /* the exposition answered (under lock) */
	uint64_t scrapes;    /* under lock */
	struct client clients[SERVE_MAX_CLIENTS];
};

int serve_server__open(const struct serve_addr *addr, struct serve_server **out)
{
	struct serve_server *srv;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1, err, i;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->listen_fd = srv->wake_fd = -1;
	for (i = 0; i < SERVE_MAX_CLIENTS; i++)
		srv->clients[i].fd = -1;
	pthread_mutex_init(&srv->lock, NULL);
	sb_init(&srv->front);

	srv->listen_fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->listen_fd < 0) {
		err = -errno;
		pr_err("cannot create a socket for %s: %s", addr->text, strerror(-err));
		goto cleanup;
	}
	setsockopt(srv->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->ss.ss_family == AF_INET6)
		setsockopt(srv->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(srv->listen_fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
		err = -errno;
		pr_err("cannot listen on %s: %s%s", addr->text, strerror(-err),
		       err == -EADDRINUSE ? " (another exporter running? pick a port with --listen)" : "");
		goto cleanup;
	}
	if (listen(srv->listen_fd, 128) < 0) {
		err = -errno;
		pr_err("cannot listen on %s: %s", addr->text, strerror(-err));
		goto cleanup;
	}
	if (getsockname(srv->listen_fd, (struct sockaddr *)&ss, &sl) < 0) {
		err = -errno;
		pr_err("cannot read the address of %s: %s", addr->text, strerror(-err));
		goto cleanup;
	}
	srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						   : ((struct sockaddr_in *)&ss)->sin_port);
	srv->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (srv->wake_fd < 0) {
		err = -errno;
		pr_err("cannot create an eventfd: %s", strerror(-err));
		goto cleanup;
	}
	*out = srv;
	return 0;
cleanup:
	serve_server__free(srv);
	return err;
}

int serve_server__port(const struct serve_server *srv)
{
	return srv->port;
}

static void client_close(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->resp);
	cl->fd = -1;
	cl->resp = NULL;
	cl->state = CLIENT_FREE;
	cl->req_len = cl->resp_len = cl->resp_off = 0;
}

static void client_respond(struct serve_server *srv, struct client *cl, int status, const char *reason,
			   const char *ctype, bool head, const char *body, size_t body_len, bool with_scrapes)
{
	struct strbuf tail, hdr;
	uint64_t scrapes = 0;
	char *resp;
	size_t n;

	sb_init(&tail);
	sb_init(&hdr);
	if (with_scrapes) {
		pthread_mutex_lock(&srv->lock);
		scrapes = ++srv->scrapes;
		body = srv->front.buf ? srv->front.buf : "";
		body_len = srv->front.len;
		serve__render_scrapes(&tail, scrapes);
		n = body_len + tail.len;
		sb_printf(&hdr,
			  "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			  status, reason, ctype, n);
		resp = hdr.oom || tail.oom ? NULL : malloc(hdr.len + (head ? 0 : n) + 1);
		if (resp) {
			memcpy(resp, hdr.buf, hdr.len);
			if (!head) {
				memcpy(resp + hdr.len, body, body_len);
				memcpy(resp + hdr.len + body_len, tail.buf, tail.len);
			}
		}
		pthread_mutex_unlock(&srv->lock);
	} else {
		n = body_len;
		sb_printf(&hdr,
			  "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			  status, reason, ctype, n);
		resp = hdr.oom ? NULL : malloc(hdr.len + (head ? 0 : n) + 1);
		if (resp) {
			memcpy(resp, hdr.buf, hdr.len);
			if (!head)
				memcpy(resp + hdr.len, body, body_len);
		}
	}
	if (!resp) {
		client_close(cl);
	} else {
		cl->resp = resp;
		cl->resp_len = hdr.len + (head ? 0 : n);
		cl->resp_off = 0;
		cl->state = CLIENT_WRITING;
		cl->deadline_ns = now_mono_ns() + SERVE_WRITE_TIMEOUT_MS * 1000000ull;
	}
	sb_free(&tail);
	sb_free(&hdr);
}

static const char index_html[] = "<!DOCTYPE html>\n<html><head><title>pyleak exporter</title></head><body>\n"
				 "<h1>pyleak exporter</h1>\n<p><a href=\"/metrics\">/metrics</a></p>\n"
				 "</body></html>\n";

/* Requests are tiny: the request line decides; headers are read (to the blank line) only so that
 * closing the socket does not reset it while the client still sends them. */
static void client_request(struct serve_server *srv, struct client *cl)
{
	char method[16], path[256], *line_end, *sp1, *sp2;
	const char *q;
	size_t n;
	bool head;

	line_end = strpbrk(cl->req, "\r\n");
	sp1 = line_end ? memchr(cl->req, ' ', (size_t)(line_end - cl->req)) : NULL;
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
	if (!sp1 || (size_t)(sp1 - cl->req) >= sizeof(method)) {
		client_respond(srv, cl, 400, "Bad Request", "text/plain; charset=utf-8", false, "bad request\n", 12,
			       false);
		return;
	}
	n = (size_t)(sp1 - cl->req);
	memcpy(method, cl->req, n);
	method[n] = '\0';
	if (!sp2)
		sp2 = line_end; /* HTTP/0.9 style "GET /metrics" */
	n = (size_t)(sp2 - sp1 - 1);
	if (n >= sizeof(path)) {
		client_respond(srv, cl, 414, "URI Too Long", "text/plain; charset=utf-8", false, "uri too long\n", 13,
			       false);
		return;
	}
	memcpy(path, sp1 + 1, n);
	path[n] = '\0';
	q = strchr(path, '?');
	if (q)
		path[q - path] = '\0';
	head = !strcmp(method, "HEAD");
	if (!head && strcmp(method, "GET")) {
		client_respond(srv, cl, 405, "Method Not Allowed", "text/plain; charset=utf-8", false,
			       "method not allowed\n", 19, false);
		return;
	}
	if (!strcmp(path, "/metrics"))
		client_respond(srv, cl, 200, "OK", SERVE_CONTENT_TYPE, head, NULL, 0, true);
	else if (!strcmp(path, "/"))
		client_respond(srv, cl, 200, "OK", "text/html; charset=utf-8", head, index_html,
			       sizeof(index_html) - 1, false);
	else
		client_respond(srv, cl, 404, "Not Found", "text/plain; charset=utf-8", head, "not found\n", 10, false);
}

static void client_read(struct serve_server *srv, struct client *cl)
{
	ssize_t r;

	r = read(cl->fd, cl->req + cl->req_len, SERVE_MAX_REQUEST - cl->req_len);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		client_close(cl);
		return;
	}
	cl->req_len += (size_t)r;
	cl->req[cl->req_len] = '\0';
	if (memchr(cl->req, '\0', cl->req_len)) {
		client_close(cl); /* binary junk: not HTTP */
		return;
	}
	if (strstr(cl->req, "\r\n\r\n") || strstr(cl->req, "\n\n")) {
		client_request(srv, cl);
		return;
	}
	if (cl->req_len >= SERVE_MAX_REQUEST)
		client_respond(srv, cl, 431, "Request Header Fields Too Large", "text/plain; charset=utf-8", false,
			       "request too large\n", 18, false);
}

static void client_write(struct client *cl)
{
	ssize_t w;

	while (cl->resp_off < cl->resp_len) {
		/* MSG_NOSIGNAL: EPIPE instead of SIGPIPE even if someone restored its default. */
		w = send(cl->fd, cl->resp + cl->resp_off, cl->resp_len - cl->resp_off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) { /* EPIPE/ECONNRESET: the scraper went away */
			client_close(cl);
			return;
		}
		cl->resp_off += (size_t)w;
	}
	shutdown(cl->fd, SHUT_WR);
	client_close(cl);
}

static void accept_clients(struct serve_server *srv)
{
	struct client *cl, *oldest;
	int fd, i;

	for (;;) {
		fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a transient error (EMFILE, ECONNABORTED): poll tells us again */
		cl = NULL;
		oldest = NULL;
		for (i = 0; i < SERVE_MAX_CLIENTS; i++) {
			if (srv->clients[i].state == CLIENT_FREE) {
				cl = &srv->clients[i];
				break;
			}
			if (srv->clients[i].state == CLIENT_READING &&
			    (!oldest || srv->clients[i].accepted_ns < oldest->accepted_ns))
				oldest = &srv->clients[i];
		}
		if (!cl && oldest) {
			/* Full of connections that send nothing (slow loris): the oldest gives way. */
			client_close(oldest);
			cl = oldest;
		}
		if (!cl) {
			close(fd); /* every slot is busy writing: the scraper retries */
			continue;
		}
		cl->fd = fd;
		cl->state = CLIENT_READING;
		cl->accepted_ns = now_mono_ns();
		cl->deadline_ns = cl->accepted_ns + SERVE_READ_TIMEOUT_MS * 1000000ull;
		cl->req_len = 0;
	}
}

static void *server_main(void *arg)
{
	struct serve_server *srv = arg;
	struct pollfd pfd[SERVE_MAX_CLIENTS + 2];
	int idx[SERVE_MAX_CLIENTS + 2];
	int n, i, r;
	uint64_t now;

	while (!exiting) {
		n = 0;
		pfd[n++] = (struct pollfd){ .fd = srv->wake_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = srv->listen_fd, .events = POLLIN };
		for (i = 0; i < SERVE_MAX_CLIENTS; i++) {
			struct client *cl = &srv->clients[i];

			if (cl->state == CLIENT_FREE)
				continue;
			idx[n] = i;
			pfd[n++] = (struct pollfd){ .fd = cl->fd, .events = cl->state == CLIENT_READING ? POLLIN : POLLOUT };
		}
		/* 250 ms: the granularity of the per-client timeouts. */
		r = poll(pfd, (nfds_t)n, 250);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && pfd[0].revents)
			break; /* serve_server__free() woke us */
		for (i = 2; r > 0 && i < n; i++) {
			struct client *cl = &srv->clients[idx[i]];

			if (!pfd[i].revents)
				continue;
			if (cl->state == CLIENT_READING)
				client_read(srv, cl);
			if (cl->state == CLIENT_WRITING)
				client_write(cl);
			else if (cl->state != CLIENT_FREE && (pfd[i].revents & (POLLERR | POLLNVAL)))
				client_close(cl);
		}
		if (r > 0 && pfd[1].revents)
			accept_clients(srv);
		now = now_mono_ns();
		for (i = 0; i < SERVE_MAX_CLIENTS; i++)
			if (srv->clients[i].state != CLIENT_FREE && now >= srv->clients[i].deadline_ns)
				client_close(&srv->clients[i]);
	}
	return NULL;
}

int serve_server__start(struct serve_server *srv)
{
	sigset_t block, old;
	int err;

	/* Signals go to the collector thread: its waits return EINTR and see `exiting` at once. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	err = -pthread_create(&srv->thread, NULL, server_main, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pr_err("cannot start the server thread: %s", strerror(-err));
		return err;
	}
	srv->started = true;
	return 0;
}

void serve_server__publish(struct serve_server *srv, struct strbuf *body)
{
	struct strbuf tmp;

	pthread_mutex_lock(&srv->lock);
	tmp = srv->front;
	srv->front = *body;
	*body = tmp;
	pthread_mutex_unlock(&srv->lock);
}

uint64_t serve_server__scrapes(struct serve_server *srv)
{
	uint64_t n;

	pthread_mutex_lock(&srv->lock);
	n = srv->scrapes;
	pthread_mutex_unlock(&srv->lock);
	return n;
}

void serve_server__free(struct serve_server *srv)
{
	uint64_t one = 1;
	int i;

	if (!srv)
		return;
	if (srv->started) {
		if (write(srv->wake_fd, &one, sizeof(one)) < 0)
			pr_debug("cannot wake the server thread: %s", strerror(errno));
		pthread_join(srv->thread, NULL);
	}
	for (i = 0; i < SERVE_MAX_CLIENTS; i++)
		if (srv->clients[i].state != CLIENT_FREE)
			client_close(&srv->clients[i]);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->wake_fd >= 0)
		close(srv->wake_fd);
	sb_free(&srv->front);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}
