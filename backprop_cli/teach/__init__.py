"""For teachers: templates → seeded variants → sheets, keys, LMS exports → grading.

template.py (generators, settings) · constraints.py · variants.py (draw, solve,
reject) · answers.py (asked names, points, keys) · sheets.py (question sheets,
solutions, exam) · bundle.py (the output folder) · distractors.py + lms.py (Moodle
XML, GIFT, QTI) · grade.py (students' answers, error carried forward) · skeleton.py
(`backprop key`). Solving is never done here: solve.py / graph.py / check's diagnoses.
"""
