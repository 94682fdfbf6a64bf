"""
Where, not only what: the spatial stage after Global-Local CLIP scoring.

`reading` holds how an expression was read (target, position words, ordinal, relations to
anchor phrases); `parse` builds a reading from the text; `select` turns CLIP scores of the
target and of each anchor, plus mask geometry (and depth when there is one), into a choice,
or into a question when two objects fit nearly equally well.
"""
