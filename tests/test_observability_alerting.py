"""Where alarms notify, on the offline plan of both stacks: KMS-encrypted topics CloudWatch may publish to."""

from __future__ import annotations

from stacks.offline.plan import Plan
from tests.observability_plan import key_with_arn, settings, statement, topics_by_region

ACCOUNT = "123456789012"


def test_one_topic_per_alarm_region_each_encrypted_with_a_customer_managed_key_of_its_region(plan: Plan) -> None:
    topics = topics_by_region(plan)
    assert set(topics) == set(plan.outputs["alarmRegions"]) == {"eu-west-1", "us-east-1"}
    for region, topic in topics.items():
        key = key_with_arn(plan, topic.inputs["kmsMasterKeyId"])
        assert key.inputs["enableKeyRotation"] is True
        assert key.inputs.get("region", "eu-west-1") == region, "SNS only uses a key of the topic's region"
        assert plan.outputs["observability"]["alarmTopicArns"][region] == topic.outputs["arn"]


def test_topic_keys_let_only_this_stacks_alarms_encrypt_notifications(plan: Plan) -> None:
    for region, topic in topics_by_region(plan).items():
        key = key_with_arn(plan, topic.inputs["kmsMasterKeyId"])
        grant = statement(key.inputs["policy"], "CloudWatchAlarmsEncryptNotifications")
        assert grant["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        assert sorted(grant["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert grant["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {
                "aws:SourceArn": f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:{plan.outputs['alarmNamePrefix']}*"
            },
        }
        assert key.options["protect"] is (plan.stack == "prod")


def test_topic_policy_lets_this_stacks_alarms_publish_and_refuses_plain_http(plan: Plan) -> None:
    for region, topic in topics_by_region(plan).items():
        arn = topic.outputs["arn"]
        publish = statement(topic.inputs["policy"], "StackAlarmsPublish")
        assert (publish["Principal"], publish["Action"], publish["Resource"]) == (
            {"Service": "cloudwatch.amazonaws.com"},
            "sns:Publish",
            arn,
        )
        assert publish["Condition"]["ArnLike"]["aws:SourceArn"].startswith(f"arn:aws:cloudwatch:{region}:")
        deny = statement(topic.inputs["policy"], "DenyPublishWithoutTls")
        assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


def test_every_topic_mails_the_configured_addresses(plan: Plan) -> None:
    emails = set(settings(plan.stack).observability.alarm_emails)
    assert bool(emails) is (plan.stack == "prod"), "prod must page someone; staging may stay quiet"
    subscriptions = plan.of_type("aws:sns/topicSubscription:TopicSubscription")
    for topic in topics_by_region(plan).values():
        mine = [s for s in subscriptions if s.inputs["topic"] == topic.outputs["arn"]]
        assert {s.inputs["endpoint"] for s in mine} == emails
        assert {s.inputs["protocol"] for s in mine} <= {"email"}
