"""Recognition engines behind `speech.stt.Transcriber`. Each imports its own library."""
