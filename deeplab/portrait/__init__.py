"""Portrait mode: soft matte from class probabilities, lens blur, compositing, video.

Entry point for programs: ``deeplab.portrait.pipeline.run_portrait``; for single images:
``deeplab.portrait.render.render`` with probabilities from any ``ProbabilityModel``.
"""
