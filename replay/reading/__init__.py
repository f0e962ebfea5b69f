"""Reading one recording: the state at any step, moving through the steps, what values mean.

Everything here reads one recording of one test from its trace file: the state a step
shows (its keyframe and events applied, object references resolved), the timeline and a
cursor over it, where a value came from, the query language for paths and breakpoint
conditions, and the facts about the recorded forms that every view shows the same way.
It knows nothing of other recordings: comparing them is ``replay.comparing``'s concern.
"""
