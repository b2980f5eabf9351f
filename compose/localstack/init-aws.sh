#!/usr/bin/env bash
# LocalStack ready hook: the trigger queue with its dead-letter queue (as on CDP, contracts.md §1.3),
# the SNS topic nrf-backend publishes to (raw delivery to the queue), and the reference-data bucket.
set -euo pipefail
export AWS_DEFAULT_REGION=eu-west-2
QUEUE=nrf-impact-assessment-requests

dlq_url=$(awslocal sqs create-queue --queue-name "$QUEUE-deadletter" --query QueueUrl --output text)
dlq_arn=$(awslocal sqs get-queue-attributes --queue-url "$dlq_url" --attribute-names QueueArn --query Attributes.QueueArn --output text)
queue_url=$(awslocal sqs create-queue --queue-name "$QUEUE" --attributes "{\"VisibilityTimeout\":\"300\",\"RedrivePolicy\":\"{\\\"deadLetterTargetArn\\\":\\\"$dlq_arn\\\",\\\"maxReceiveCount\\\":\\\"3\\\"}\"}" --query QueueUrl --output text)
queue_arn=$(awslocal sqs get-queue-attributes --queue-url "$queue_url" --attribute-names QueueArn --query Attributes.QueueArn --output text)

topic_arn=$(awslocal sns create-topic --name nrf-quote-estimate-request --query TopicArn --output text)
awslocal sns subscribe --topic-arn "$topic_arn" --protocol sqs --notification-endpoint "$queue_arn" \
  --attributes RawMessageDelivery=true > /dev/null

awslocal s3 mb s3://nrf-reference-data > /dev/null
echo "queues, topic and bucket ready: $queue_url"
