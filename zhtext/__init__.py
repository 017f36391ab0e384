"""Chinese text handling for every part of the hotline (ground floor: imports nothing of ours).

A module per concept:

- ``zhtext.convert``: traditional -> simplified (OpenCC's t2s, phrase aware)
- ``zhtext.normalize``: the normal forms callers match and score on
- ``zhtext.numbers``: Arabic numbers read as spoken Chinese (ASR scoring)
- ``zhtext.placeholders``: masked personal data (``[订单x]``, ``<PHONE>``) and raw personal numbers
- ``zhtext.match``: the compact form with a position map, and Aho-Corasick phrase matching
- ``zhtext.segment``: jieba word segmentation with domain words
- ``zhtext.tokens``: joining recognizer tokens (no spaces around Chinese, spaces between Latin words)
"""
