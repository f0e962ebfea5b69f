"""Comparing a recording with another: which one to compare with, and what differs.

Finding the recording a test is compared with (its last passing one, or one in a named
run), the plans two recordings were made under, aligning their steps to the first
divergence, and diffing the states there, with the differences no run can reproduce
(addresses, hashes) set aside. Built on ``replay.reading``; shows nothing itself.
"""
