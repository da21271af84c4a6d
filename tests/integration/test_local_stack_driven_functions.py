"""The local stack drives the real template's notifier (SQS) and propagator (schedule), with
its local parameter defaults. (What the handlers do is tested with them.)"""

import json

from local_stack.stack import LOCAL_PARAMETERS


def test_the_notification_queue_has_the_local_retry_and_redrive(stack_aws):
    sqs = stack_aws("sqs")
    url = sqs.get_queue_url(QueueName="NotificationQueue")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == LOCAL_PARAMETERS["NotificationRetrySeconds"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":NotificationDeadLetterQueue")
    assert int(redrive["maxReceiveCount"]) == 5  # the template's default


def test_the_banner_names_the_drivers(stack):
    log = stack.log()
    assert "  SQS NotificationQueue -> NotifierFunction (batch 5, retry after 5s, " in log
    assert "  SCHEDULE rate(5 seconds) -> PropagatorFunction\n" in log
