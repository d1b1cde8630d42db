"""Runs a real ClickHouse HTTP server from libchdb.so until killed.

Usage: clickhouse_server.py LIBCHDB PORT DATA_DIR [CONFIG_XML]

chdb's command-line entry point serves HTTP on PORT while its keep-alive
query blocks; the data in DATA_DIR survives a restart. CONFIG_XML may name
the users file (users, roles and grants; clickhouse-local reads access
control from users.xml only).
"""
import ctypes
import sys

lib = ctypes.CDLL(sys.argv[1])
keep_alive = (b"SYSTEM START LISTEN HTTP; SELECT sleepEachRow(1) FROM system.numbers "
              b"SETTINGS max_block_size=1, function_sleep_max_microseconds_per_block=0 FORMAT Null")
argv = [b"clickhouse", f"--path={sys.argv[3]}".encode(), f"--http_port={sys.argv[2]}".encode(),
        b"--listen_host=127.0.0.1", b"--multiquery", b"-q", keep_alive]
if len(sys.argv) > 4:
    argv.insert(1, f"--config-file={sys.argv[4]}".encode())
lib.chdb_query_cmdline.restype = ctypes.c_void_p
lib.chdb_query_cmdline(len(argv), (ctypes.c_char_p * len(argv))(*argv))
