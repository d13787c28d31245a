"""In-app inbox and outgoing channels (SMS/WeChat later) for every domain's notifications."""
