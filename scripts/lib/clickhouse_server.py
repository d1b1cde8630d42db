"""Runs a real ClickHouse HTTP server from libchdb.so until killed.

Usage: clickhouse_server.py LIBCHDB PORT DATA_DIR [CONFIG_XML [TCP_PORT]]

chdb's command-line entry point serves HTTP on PORT while its keep-alive
query blocks; the data in DATA_DIR survives a restart. CONFIG_XML may name
the users file (users, roles and grants; clickhouse-local reads access
control from users.xml only), or a cluster's `remote_servers` and `macros`;
with TCP_PORT the server also serves the native protocol there, which the
other nodes of a cluster use to reach it.
"""
import ctypes
import sys

lib = ctypes.CDLL(sys.argv[1])
listen = b"SYSTEM START LISTEN HTTP; "
argv = [b"clickhouse", f"--path={sys.argv[3]}".encode(), f"--http_port={sys.argv[2]}".encode(),
        b"--listen_host=127.0.0.1", b"--multiquery"]
if len(sys.argv) > 4:
    argv.insert(1, f"--config-file={sys.argv[4]}".encode())
if len(sys.argv) > 5:
    argv.append(f"--tcp_port={sys.argv[5]}".encode())
    listen += b"SYSTEM START LISTEN TCP; "
keep_alive = listen + (b"SELECT sleepEachRow(1) FROM system.numbers "
                       b"SETTINGS max_block_size=1, function_sleep_max_microseconds_per_block=0 FORMAT Null")
argv += [b"-q", keep_alive]
lib.chdb_query_cmdline.restype = ctypes.c_void_p
lib.chdb_query_cmdline(len(argv), (ctypes.c_char_p * len(argv))(*argv))
