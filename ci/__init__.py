"""The delivery pipeline's steps, one module each, run through ``make`` by GitHub Actions and Jenkins alike.

offline    offline plans, manifests and policy verdicts of every stack, and their summary
manifests  validation of the rendered Kubernetes manifests
image      build and push the shop image, by digest
release    deploy a stack with an image, roll it back, preview it, keep released images
smoke      the smoke test of a deployed shop
alarms     the alarm gate after a deploy
notify     a message to the team's chat webhook
pr_comment the offline plan as a pull request comment (pull requests from forks)
packages   the Debian packages the test suites drive, installed where missing
"""
