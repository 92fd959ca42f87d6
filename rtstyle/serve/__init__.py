"""`rtstyle serve`: the stylised camera in a browser (WebRTC) and as an MJPEG stream.

browser camera --WebRTC--> peer.py --newest-frame slot--> worker.py (engine from pool.py,
adjust, stabilise) --WebRTC--> the page. A server-side `--source` goes the same way into
the MJPEG sink (rtstyle.sinks.mjpeg) behind /stream.mjpg. app.py holds the HTTP routes,
the token check and the client limit; ice.py keeps WebRTC on the addresses allowed.
"""
