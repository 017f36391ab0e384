"""Speech menus over Twilio Media Streams, a module per job.

- `session`: Twilio's stream messages in, decisions out (pure; the protocol side), with the
  `actions` it decides, the `grammar` of each menu point and the stream `signing`;
- `transport`: the sockets (flask-sock route, `websockets` server beside waitress), the receive loop;
- `hub`: what a process's streams share, and the worker thread that runs one stream's recognizer;
- `adapters`: the speech engine (`speech.stt`) and Twilio's REST redirect;
- `routes`: the HTTP side (redirect targets) and the wiring from the settings;
- `replay`: plays Twilio's part against a server (tests, benchmarks, checking a setup).
"""
