#!/usr/bin/python3
"""STAND-IN (not ACS): a tiny GIOP server that answers LocateRequest for the keys it serves.

Usage: responder.py HOST PORT KEY [KEY...]. Prints `listening` once bound. Written from the
GIOP specification independently of ocfpy.giop so the tests do not check ocfpy against itself.
"""
import socketserver
import struct
import sys


class Handler(socketserver.BaseRequestHandler):
    def read(self, count):
        data = b""
        while len(data) < count:
            chunk = self.request.recv(count - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def handle(self):
        try:
            while True:
                header = self.read(12)
                if header[:4] != b"GIOP":
                    return
                major, minor, flags, msg_type = header[4:8]
                end = "<" if flags & 1 else ">"
                body = self.read(struct.unpack(end + "I", header[8:12])[0])
                if msg_type != 3:  # only LocateRequest; anything else: MessageError
                    self.request.sendall(b"GIOP" + bytes((major, minor, flags & 1, 6))
                                         + struct.pack(end + "I", 0))
                    continue
                request_id = struct.unpack(end + "I", body[:4])[0]
                offset = 8 if (major, minor) >= (1, 2) else 4  # 1.2: discriminant + padding
                length = struct.unpack(end + "I", body[offset:offset + 4])[0]
                key = body[offset + 4:offset + 4 + length]
                status = 1 if key in self.server.keys else 0
                reply = struct.pack(end + "II", request_id, status)
                self.request.sendall(b"GIOP" + bytes((major, minor, flags & 1, 4))
                                     + struct.pack(end + "I", len(reply)) + reply)
        except (EOFError, ConnectionError):
            return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(host, port, keys, announce=True):
    server = Server((host, port), Handler)
    server.keys = {key.encode() for key in keys}
    if announce:
        print("listening", flush=True)
    return server


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), sys.argv[3:]).serve_forever()
