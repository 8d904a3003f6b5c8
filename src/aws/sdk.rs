//! The EC2 port over aws-sdk-ec2.
