"""The assessment pipeline: SQS sensor → one run per quote → results to nrf-backend."""

import dagster as dg

from nrf_pipeline.defs.assessment.failures import assessment_failure_sensor
from nrf_pipeline.defs.assessment.jobs import assessment_job
from nrf_pipeline.defs.assessment.sensors import sqs_assessment_sensor

defs = dg.Definitions(jobs=[assessment_job], sensors=[sqs_assessment_sensor, assessment_failure_sensor])
