"""
Words for the toy world's position, ordinal, size, depth and `between` expressions.

Each meaning has several spellings, as users vary them ("the nearest", "the one closest to the
camera", "in front"), so that the spatial stage is measured on wording, not on one template.
"""

#: What a description without a shape calls its object ("the farthest red object").
OBJECT_NOUNS = ('object', 'thing', 'item')

EXTREME_TEMPLATES = {
    'nearest': ('the nearest {np}', 'the closest {np}', 'the {np} closest to the camera',
                'the {np} nearest to me', 'the {np} in front', 'the front {np}'),
    'farthest': ('the farthest {np}', 'the furthest {np}', 'the {np} farthest from the camera',
                 'the {np} at the back', 'the back {np}', 'the most distant {np}'),
    'biggest': ('the biggest {np}', 'the largest {np}', 'the {np} that is the biggest'),
    'smallest': ('the smallest {np}', 'the tiniest {np}', 'the {np} that is the smallest'),
    'bigger': ('the bigger {np}', 'the larger {np}'),
    'smaller': ('the smaller {np}', 'the {np} that is smaller'),
}

ORDINAL_WORDS = {2: ('second', '2nd'), 3: ('third', '3rd'), 4: ('fourth', '4th'),
                 5: ('fifth', '5th'), 6: ('sixth', '6th')}
#: A plain ordinal ("the second circle") counts from the left, as people read a row.
ORDINAL_TEMPLATES = {
    'left': ('the {nth} {np} from the left', 'the {nth} {np} from the left side',
             'the {nth} {np} counting from the left', 'the {nth} {np}'),
    'right': ('the {nth} {np} from the right', 'the {nth} {np} from the right side',
              'the {nth} {np} counting from the right',
              'the {nth} {np} from the right-hand side'),
    'nearest': ('the {nth} nearest {np}', 'the {nth} closest {np}',
                'the {nth} {np} from the front'),
    'farthest': ('the {nth} farthest {np}', 'the {nth} furthest {np}',
                 'the {nth} {np} from the back'),
}
#: 'last' counts from the left, so it names the rightmost one.
LAST_TEMPLATES = ('the last {np}', 'the last {np} on the right', 'the last {np} in the row',
                  'the very last {np} on the right side')

DEPTH_RELATION_TEMPLATES = {
    'in front of': ('the {np} in front of {anchor}', 'the {np} closer than {anchor}',
                    'the {np} nearer to me than {anchor}',
                    'the {np} closer to the camera than {anchor}'),
    'behind': ('the {np} behind {anchor}', 'the {np} in back of {anchor}',
               'the {np} farther away than {anchor}', 'the {np} further back than {anchor}'),
}
BETWEEN_TEMPLATES = ('the {np} between {a} and {b}', 'the {np} in between {a} and {b}',
                     'the {np} in the middle of {a} and {b}',
                     'the {np} that is between {a} and {b}',
                     'the {np} sitting between {a} and {b}')
