"""The hot path: asyncio Protocols driven by llhttp callbacks, no task per request.

Three objects share the work. Each field below has one writer; the others only read it.

ClientConnection (client.py): one accepted socket
    owns   the llhttp request parser, `queue` (exchanges in request order; queue[0] is answering), the
           read pausers (PIPELINE, REJECTED, DRAINING, or an exchange holding too much body), the
           read/idle/write deadlines swept by the entry point.
    phase  `phase` (client.Phase), what `data_received` does with the next bytes:
             PARSING      llhttp parses; `in_head` tells a head still arriving (bounded by
                          max_header_bytes) from a chunked body
             RAW_BODY     a Content-Length request body (`raw_left` bytes to come): relayed past the
                          parser (shortcut 1); back to PARSING when it ends
             UPGRADING    an Upgrade request is being answered: bytes go to `upgrading` unparsed
             TUNNEL       after a 101: bytes go to `tunnel`, the upstream connection, as they are
             DISCARDING   answered unparseable input (or answered early) and half-closed: input is
                          dropped until we close; no phase follows it. Also after `hand_over`: a TLS
                          ClientHello as a plain entry point's first bytes (seen only on llhttp's error
                          path) hands the transport to a TLS protocol (EntryPointServer.tls_on_plain)
           `receiving` is the exchange whose request body is being read (it may be behind queue[0]);
           `peer_done` the client half-closed; `pending_reject` a 4xx owed once the queue empties.

Exchange (exchange.py; FilteringExchange / BodyExchange in bodyexchange.py for plans that see bodies)
    owns   the request head once parsed, the plan, the picked server, the upstream connection while
           attached, the bytes bound upstream (`pending` while dialling or `holding`), the response
           framing towards the client (`chunked_out`, `body_until_close`, `keep_alive`).
    life   dispatched (reply or server set; `stage` is a task while waiting middlewares run)
           -> begin (its turn in the queue) -> dialling (`_connect_task`) or attached (`upstream`)
           -> response_started -> response_done (upstream side over) -> finished (client side over,
           observers and `at_end` callbacks run exactly once, by ClientConnection.exchange_done,
           start_tunnel or connection_lost).
           request_complete (the whole request body went in) runs beside it: a response may be done
           before the request is, which closes the connection (nginx's lingering close) instead of
           reusing it. `attempts` counts sends; a retry or a dead reused connection goes back to
           dialling with `sent_head` (and `replay`, the body kept for a status retry).

UpstreamConnection (upstream.py): one pooled socket to a server
    owns   the llhttp response parser (reused only when it saw the last response end), the head lines
           so far, `raw_left` (a Content-Length body relayed past the parser), `broken` (never reuse),
           `in_pool` / `idle_since` (the pool's), `tunnel` after a 101.
    phase  exchange None: idle in the pool (any byte breaks it); in_head: a head arriving (bounded by
           maxResponseHeaderBytes, 502 beyond); raw_left > 0: body bytes relayed as read; complete:
           the response is over and the exchange releases (or closes) the connection.

Shortcuts. Each one skips work the general path would do and must give what the general path gives;
the test named after each proves it.
  1. A Content-Length request body bypasses llhttp (ClientConnection._relay_raw_body) instead of on_body.
     tests/property/test_prop_shortcuts.py::test_request_bodies_arrive_whole_however_split
  2. A Content-Length response body bypasses llhttp (UpstreamConnection._relay_raw_body).
     tests/property/test_prop_shortcuts.py::test_response_bodies_arrive_whole_however_split
  3. A response head with a lone Content-Length and no hop-by-hop header (but `Connection: keep-alive`)
     goes out as the upstream wrote it (response_head_as_is) instead of being decoded, filtered and
     encoded (response_head), when the plan has no response side (`RoutePlan.relays_as_is`), or only
     hooks that act on header names the head lacks (`RoutePlan.relays_unless`: prefixRewrite's Location,
     Set-Cookie...).
     tests/property/test_prop_shortcuts.py::test_response_head_as_is_equals_the_general_path
  4. A request head whose names need nothing special (`RequestShape.plain`, cached per list of names in
     shape.py) skips hop-by-hop stripping, Pragma fixing and the X-Forwarded filter scan; its last step
     (finalize_upstream_headers(plain=True)) is one test of `RequestHead.xff` before adding X-Forwarded-For.
     tests/property/test_prop_shortcuts.py::test_plain_request_head_equals_the_general_path and
     tests/forwarder/test_forwarded_headers.py::test_x_forwarded_for_plain_shortcut_same_as_general
  5. A Connection header whose applying only drops names (nothing kept by the entry point's `connection`
     option, no upgrade asked: the browsers' `keep-alive`) is applied at once and the head goes on as
     plain (ForwardedHeaders.drop_connection_listing).
     tests/forwarder/test_hop_headers.py::test_lone_keep_alive_shortcut_agrees_with_the_general_rule and
     tests/forwarder/test_forwarded_headers.py (the Connection-only shortcut cases)
  6. Valid names and a plain Host value skip Go's request-header checks (dispatch: `shape.valid`).
     tests/property/test_prop_shortcuts.py::test_header_check_shortcut_equals_the_full_check
  7. A request-target of plain characters skips Go's URL parsing and path cleaning
     (normalize.parse_request_target vs _parse_any_target).
     tests/server/test_normalize.py (plain-target cases) and
     tests/property/test_prop_shortcuts.py::test_plain_target_equals_the_general_parser
  8. Header values are decoded with one join/decode/split (shape.decode_values) instead of one by one.
     tests/property/test_prop_shortcuts.py::test_values_decode_as_one_by_one
  9. Up to four routes are tried in order instead of through the host/prefix indexes (RouteTable._linear).
     tests/routing/test_route_table_equivalence.py::test_small_tables_equal_the_indexed_lookup
 10. The head and the body bytes that came in the same read leave in one write (Exchange.holding).
     Same bytes, fewer syscalls: shortcut 1's test covers the bytes.
 11. A path of plain characters (no percent-escape) skips stripPrefix's side-by-side strip of the decoded
     and raw paths.
     tests/middlewares/test_mw_stripprefix.py::test_plain_path_shortcut_agrees_with_the_general_path
 12. A load balancer with one healthy server, no sticky cookie and no passive health check skips its
     strategy (`Balancer._only`, for strategies with `single_fast`).
     tests/property/test_prop_shortcuts.py::test_lone_healthy_server_is_what_the_strategy_picks
"""
